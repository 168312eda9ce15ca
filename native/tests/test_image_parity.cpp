// Bit-exact parity with Pillow on the fixture PNGs, in C++ alone (no Node, no decoder library):
// the PNG inputs of shared/fixtures/preprocess/cases.json are decoded by a small inflate + PNG
// reader below (test-only), and their decoded RGB, VLAC tile and InternVL tiles (max 12 and 6)
// must hash to the official sha256s. JPEG/WebP/GIF inputs need a real decoder: their parity is
// test/preprocess.test.ts (sharp). The 16-bit PNG is the documented deviation and is skipped.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "image/color.h"
#include "image/preprocess.h"
#include "support/fixtures.h"

using namespace vlac;

namespace {

// ---- SHA-256 (FIPS 180-4) ----------------------------------------------------------------------
std::string sha256_hex(const uint8_t* data, size_t size) {
  static const uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  std::vector<uint8_t> msg(data, data + size);
  msg.push_back(0x80);
  while (msg.size() % 64 != 56) msg.push_back(0);
  const uint64_t bits = static_cast<uint64_t>(size) * 8;
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  for (size_t block = 0; block < msg.size(); block += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      const uint8_t* p = &msg[block + 4 * i];
      w[i] = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  char hex[65];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 8 * i, 9, "%08x", h[i]);
  return std::string(hex, 64);
}

// ---- inflate (RFC 1951), canonical-Huffman decoding one bit at a time ------------------------
class Inflater {
 public:
  Inflater(const uint8_t* data, size_t size) : in_(data), size_(size) {}

  std::vector<uint8_t> run() {
    bool last = false;
    while (!last) {
      last = bits(1);
      const int type = bits(2);
      if (type == 0) {
        stored();
      } else if (type == 1) {
        Huffman lit, dist;
        fixed_tables(lit, dist);
        codes(lit, dist);
      } else if (type == 2) {
        Huffman lit, dist;
        dynamic_tables(lit, dist);
        codes(lit, dist);
      } else {
        throw std::runtime_error("inflate: bad block type");
      }
    }
    return std::move(out_);
  }

 private:
  struct Huffman {
    std::array<int, 16> count{};
    std::vector<int> symbol;
  };

  int bits(int n) {
    int v = 0;
    for (int i = 0; i < n; ++i) {
      if (pos_ >= size_ * 8) throw std::runtime_error("inflate: truncated");
      v |= ((in_[pos_ >> 3] >> (pos_ & 7)) & 1) << i;
      ++pos_;
    }
    return v;
  }

  static void build(Huffman& h, const int* lengths, int n) {
    h.count.fill(0);
    for (int i = 0; i < n; ++i) h.count[lengths[i]]++;
    h.count[0] = 0;
    std::array<int, 16> offs{};
    for (int len = 1; len < 16; ++len) offs[len] = offs[len - 1] + h.count[len - 1];
    h.symbol.assign(n, 0);
    for (int i = 0; i < n; ++i) {
      if (lengths[i]) h.symbol[offs[lengths[i]]++] = i;
    }
  }

  int decode(const Huffman& h) {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; ++len) {
      code |= bits(1);
      const int count = h.count[len];
      if (code - count < first) return h.symbol[index + (code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw std::runtime_error("inflate: bad code");
  }

  void stored() {
    pos_ = (pos_ + 7) & ~size_t{7};
    const int len = bits(16);
    bits(16);  // one's complement of len
    for (int i = 0; i < len; ++i) out_.push_back(static_cast<uint8_t>(bits(8)));
  }

  static void fixed_tables(Huffman& lit, Huffman& dist) {
    int lengths[288];
    for (int i = 0; i < 144; ++i) lengths[i] = 8;
    for (int i = 144; i < 256; ++i) lengths[i] = 9;
    for (int i = 256; i < 280; ++i) lengths[i] = 7;
    for (int i = 280; i < 288; ++i) lengths[i] = 8;
    build(lit, lengths, 288);
    for (int i = 0; i < 30; ++i) lengths[i] = 5;
    build(dist, lengths, 30);
  }

  void dynamic_tables(Huffman& lit, Huffman& dist) {
    static const int order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    const int nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
    int lengths[320] = {};
    for (int i = 0; i < ncode; ++i) lengths[order[i]] = bits(3);
    Huffman lencode;
    build(lencode, lengths, 19);
    int index = 0;
    while (index < nlen + ndist) {
      int symbol = decode(lencode);
      if (symbol < 16) {
        lengths[index++] = symbol;
        continue;
      }
      int len = 0, repeat;
      if (symbol == 16) {
        if (index == 0) throw std::runtime_error("inflate: repeat with no first length");
        len = lengths[index - 1];
        repeat = 3 + bits(2);
      } else if (symbol == 17) {
        repeat = 3 + bits(3);
      } else {
        repeat = 11 + bits(7);
      }
      if (index + repeat > nlen + ndist) throw std::runtime_error("inflate: too many lengths");
      while (repeat--) lengths[index++] = len;
    }
    build(lit, lengths, nlen);
    build(dist, lengths + nlen, ndist);
  }

  void codes(const Huffman& lit, const Huffman& dist) {
    static const int len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27,
                                     31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const int len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static const int dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                                      193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
                                      6145, 8193, 12289, 16385, 24577};
    static const int dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    while (true) {
      int symbol = decode(lit);
      if (symbol < 256) {
        out_.push_back(static_cast<uint8_t>(symbol));
      } else if (symbol == 256) {
        return;
      } else {
        symbol -= 257;
        if (symbol >= 29) throw std::runtime_error("inflate: bad length symbol");
        const int len = len_base[symbol] + bits(len_extra[symbol]);
        const int ds = decode(dist);
        if (ds >= 30) throw std::runtime_error("inflate: bad distance symbol");
        const size_t d = static_cast<size_t>(dist_base[ds] + bits(dist_extra[ds]));
        if (d > out_.size()) throw std::runtime_error("inflate: distance too far");
        for (int i = 0; i < len; ++i) out_.push_back(out_[out_.size() - d]);
      }
    }
  }

  const uint8_t* in_;
  size_t size_;
  size_t pos_ = 0;
  std::vector<uint8_t> out_;
};

// ---- PNG (non-interlaced, 8-bit or <8-bit gray/palette) -> RGB as Pillow's convert('RGB') ----
struct Png {
  int width = 0, height = 0, bit_depth = 0, colour_type = 0;
  std::vector<uint8_t> rgb;
};

uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

Png decode_png(const std::vector<uint8_t>& file) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  REQUIRE(file.size() > 8);
  REQUIRE(std::memcmp(file.data(), signature, 8) == 0);
  Png png;
  int interlace = 0;
  std::vector<uint8_t> idat, palette;
  for (size_t at = 8; at + 12 <= file.size();) {
    const uint32_t len = be32(&file[at]);
    const std::string type(reinterpret_cast<const char*>(&file[at + 4]), 4);
    const uint8_t* body = &file[at + 8];
    REQUIRE(at + 12 + len <= file.size());
    if (type == "IHDR") {
      png.width = static_cast<int>(be32(body));
      png.height = static_cast<int>(be32(body + 4));
      png.bit_depth = body[8];
      png.colour_type = body[9];
      interlace = body[12];
    } else if (type == "PLTE") {
      palette.assign(body, body + len);
    } else if (type == "IDAT") {
      idat.insert(idat.end(), body, body + len);
    }
    at += 12 + len;
  }
  REQUIRE(interlace == 0);
  REQUIRE(idat.size() > 6);
  REQUIRE((idat[0] & 0x0f) == 8);  // zlib header: deflate
  const std::vector<uint8_t> raw = Inflater(idat.data() + 2, idat.size() - 2).run();

  const int channels = png.colour_type == 2 ? 3 : png.colour_type == 4 ? 2 : png.colour_type == 6 ? 4 : 1;
  const int bits_per_pixel = channels * png.bit_depth;
  const size_t stride = (static_cast<size_t>(png.width) * bits_per_pixel + 7) / 8;
  const size_t bpp = std::max(1, bits_per_pixel / 8);
  REQUIRE(raw.size() >= (stride + 1) * png.height);
  std::vector<uint8_t> lines(stride * png.height);
  for (int y = 0; y < png.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* src = &raw[y * (stride + 1) + 1];
    uint8_t* cur = &lines[y * stride];
    const uint8_t* up = y ? &lines[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= bpp ? cur[x - bpp] : 0;
      const int b = up ? up[x] : 0;
      const int c = (up && x >= bpp) ? up[x - bpp] : 0;
      int pred = 0;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          break;
        }
        default: FAIL("bad PNG filter");
      }
      cur[x] = static_cast<uint8_t>(src[x] + pred);
    }
  }

  if (png.bit_depth == 8 && png.colour_type != 3) {
    png.rgb = to_rgb(lines.data(), png.width, png.height, channels, "fixture");
    return png;
  }
  // Sub-byte samples (and palette indices): unpack, then gray scales to 0..255, palette looks up.
  REQUIRE(channels == 1);
  REQUIRE(png.bit_depth <= 8);
  std::vector<uint8_t> samples(static_cast<size_t>(png.width) * png.height);
  const int max_value = (1 << png.bit_depth) - 1;
  for (int y = 0; y < png.height; ++y) {
    for (int x = 0; x < png.width; ++x) {
      const size_t bit = static_cast<size_t>(x) * png.bit_depth;
      const int v = (lines[y * stride + bit / 8] >> (8 - png.bit_depth - bit % 8)) & max_value;
      samples[static_cast<size_t>(y) * png.width + x] =
          static_cast<uint8_t>(png.colour_type == 3 ? v : v * 255 / max_value);
    }
  }
  if (png.colour_type == 0) {
    png.rgb = to_rgb(samples.data(), png.width, png.height, 1, "fixture");
    return png;
  }
  REQUIRE(png.colour_type == 3);
  REQUIRE(*std::max_element(samples.begin(), samples.end()) * 3u + 2 < palette.size());
  png.rgb.resize(samples.size() * 3);
  for (size_t p = 0; p < samples.size(); ++p) std::memcpy(&png.rgb[p * 3], &palette[samples[p] * 3], 3);
  return png;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> tile_hashes(const ImageTiles& t) {
  std::vector<std::string> out;
  const size_t bytes = static_cast<size_t>(t.size) * t.size * 3;
  for (int k = 0; k < t.count; ++k) out.push_back(sha256_hex(&t.rgb[k * bytes], bytes));
  return out;
}

}  // namespace

TEST_CASE("sha256 of the test helper is the standard one") {
  CHECK(sha256_hex(reinterpret_cast<const uint8_t*>("abc"), 3) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex(nullptr, 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("the fixture PNGs preprocess to Pillow's exact bytes: VLAC and InternVL 12 / 6 tiles") {
  const json cases = test::read_fixture_json("preprocess/cases.json")["cases"];
  int checked = 0;
  for (const auto& c : cases) {
    const std::string file = c["file"];
    if (file.size() < 4 || file.compare(file.size() - 4, 4, ".png") != 0) continue;
    // Pillow clips 16-bit gray at 255 (mode I); the engine scales instead (documented deviation).
    if (file.find("gray16") != std::string::npos) continue;
    CAPTURE(file);
    const Png png = decode_png(read_file(test::fixture_path(file)));
    REQUIRE(png.width == c["size"][0].get<int>());
    REQUIRE(png.height == c["size"][1].get<int>());
    REQUIRE(sha256_hex(png.rgb.data(), png.rgb.size()) == c["decoded_rgb_sha256"].get<std::string>());

    const ImageTiles v = preprocess_image(png.rgb.data(), png.width, png.height, ResizeMode::Vlac,
                                          12, 1, 448, true, file);
    CHECK(tile_hashes(v) == std::vector<std::string>{c["vlac"]["sha256"].get<std::string>()});
    for (const char* max_tiles : {"12", "6"}) {
      CAPTURE(max_tiles);
      const ImageTiles t = preprocess_image(png.rgb.data(), png.width, png.height,
                                            ResizeMode::InternVL, std::stoi(max_tiles), 1, 448,
                                            true, file);
      CHECK(t.count == c["internvl"][max_tiles]["tiles"].get<int>());
      CHECK(tile_hashes(t) == c["internvl"][max_tiles]["sha256"].get<std::vector<std::string>>());
    }
    ++checked;
  }
  CHECK(checked == 12);  // every PNG input of the fixtures except the 16-bit one
}

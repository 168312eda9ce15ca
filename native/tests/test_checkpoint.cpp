// Loading a checkpoint folder: tiny-a loads; every way of corrupting a copy of it gives the
// right error code and never a crash.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/bf16.h"
#include "common/error.h"
#include "common/mapped_file.h"
#include "model/checkpoint.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace vlac;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file split into its JSON header and its data, to edit and write back.
struct Safetensors {
  json header;
  std::string data;

  static Safetensors read(const std::string& path) {
    const std::string bytes = read_bytes(path);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
    return {json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
  }
  std::string bytes() const {
    const std::string h = header.dump();
    std::string out(8, '\0');
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out + h + data;
  }
};

// A scratch copy of tiny-a (symlinks would not let us corrupt files).
struct ScratchCheckpoint {
  std::string dir;
  ScratchCheckpoint() {
    char tmpl[] = "/tmp/vlac-ckpt-XXXXXX";
    dir = mkdtemp(tmpl);
    for (const auto& e : fs::directory_iterator(test::fixture_path("tiny-a")))
      if (e.is_regular_file()) fs::copy_file(e.path(), fs::path(dir) / e.path().filename());
  }
  ~ScratchCheckpoint() { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return join_path(dir, name); }
};

// The error code of opening `dir`; the message must name the file at fault (inside `dir`).
ErrorCode open_error(const std::string& dir) {
  try {
    Checkpoint::open(dir);
  } catch (const Error& e) {
    CHECK_MESSAGE(std::string(e.what()).find(dir) != std::string::npos, std::string(e.what()));
    return e.code();
  }
  FAIL("the checkpoint loaded although it is corrupt");
  return ErrorCode::Internal;
}

const char* kSomeWeight = "language_model.model.layers.0.attention.wo.weight";

}  // namespace

TEST_CASE("tiny-a loads, with every tensor the architecture needs and its config read") {
  auto ck = Checkpoint::open(test::fixture_path("tiny-a"));
  const ModelConfig& c = ck->config();
  CHECK(c.vision.hidden_size == 32);
  CHECK(c.llm.num_kv_heads == 2);
  CHECK(c.image_tokens() == 256);
  CHECK(c.llm.rope_dynamic);
  CHECK(c.llm.rope_factor == 2.0);
  CHECK(ck->stored_dtype() == "bf16");
  CHECK(ck->unused_tensors().empty());
  CHECK(ck->shape("language_model.output.weight") == std::vector<int64_t>{92553, 64});
  CHECK(ck->bf16(kSomeWeight) != nullptr);
}

TEST_CASE("an F32 checkpoint written as shards with an index loads to the same bf16 weights") {
  ScratchCheckpoint s;
  Safetensors st = Safetensors::read(s.path("model.safetensors"));
  fs::remove(s.path("model.safetensors"));
  // Two shards: tensors alternate between them; every value widened to F32.
  Safetensors shard[2];
  json weight_map = json::object();
  int i = 0;
  for (auto it = st.header.begin(); it != st.header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const auto begin = it.value()["data_offsets"][0].get<size_t>();
    const auto end = it.value()["data_offsets"][1].get<size_t>();
    Safetensors& out = shard[i % 2];
    std::string f32;
    for (size_t p = begin; p < end; p += 2) {
      uint16_t b;
      std::memcpy(&b, st.data.data() + p, 2);
      float f = bf16_to_float(b);
      f32.append(reinterpret_cast<const char*>(&f), 4);
    }
    const size_t at = out.data.size();
    out.data += f32;
    out.header[it.key()] = {{"dtype", "F32"}, {"shape", it.value()["shape"]}, {"data_offsets", {at, out.data.size()}}};
    weight_map[it.key()] = "model-0000" + std::to_string(i % 2 + 1) + "-of-00002.safetensors";
    ++i;
  }
  write_bytes(s.path("model-00001-of-00002.safetensors"), shard[0].bytes());
  write_bytes(s.path("model-00002-of-00002.safetensors"), shard[1].bytes());
  write_bytes(s.path("model.safetensors.index.json"), json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump());

  auto sharded = Checkpoint::open(s.dir);
  auto original = Checkpoint::open(test::fixture_path("tiny-a"));
  CHECK(sharded->stored_dtype() == "f32");
  const int64_t n = 64 * 64;
  CHECK(std::memcmp(sharded->bf16(kSomeWeight), original->bf16(kSomeWeight), n * 2) == 0);
}

TEST_CASE("tensors the architecture does not use are listed, not rejected") {
  ScratchCheckpoint s;
  Safetensors st = Safetensors::read(s.path("model.safetensors"));
  const size_t at = st.data.size();
  st.data += std::string(8, '\0');
  st.header["extra.head.weight"] = {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {at, at + 8}}};
  write_bytes(s.path("model.safetensors"), st.bytes());
  auto ck = Checkpoint::open(s.dir);
  REQUIRE(ck->unused_tensors().size() == 1);
  CHECK(ck->unused_tensors()[0] == "extra.head.weight");
}

struct Corruption {
  const char* what;
  ErrorCode expected;
  std::function<void(ScratchCheckpoint&)> apply;
};

TEST_CASE("every way of corrupting a checkpoint gives its own error code, never a crash") {
  auto edit_header = [](std::function<void(Safetensors&)> fn) {
    return [fn](ScratchCheckpoint& s) {
      Safetensors st = Safetensors::read(s.path("model.safetensors"));
      fn(st);
      write_bytes(s.path("model.safetensors"), st.bytes());
    };
  };
  auto edit_config = [](std::function<void(json&)> fn) {
    return [fn](ScratchCheckpoint& s) {
      json c = json::parse(read_bytes(s.path("config.json")));
      fn(c);
      write_bytes(s.path("config.json"), c.dump(2));
    };
  };
  const std::vector<Corruption> cases = {
      {"truncated weights file", ErrorCode::BadWeights,
       [](ScratchCheckpoint& s) { fs::resize_file(s.path("model.safetensors"), fs::file_size(s.path("model.safetensors")) / 2); }},
      {"a file shorter than the header length field", ErrorCode::BadWeights,
       [](ScratchCheckpoint& s) { write_bytes(s.path("model.safetensors"), "abc"); }},
      {"header length past the end of the file", ErrorCode::BadWeights,
       [](ScratchCheckpoint& s) {
         std::string b = read_bytes(s.path("model.safetensors"));
         b[6] = '\x7f';
         write_bytes(s.path("model.safetensors"), b);
       }},
      {"header that is not JSON", ErrorCode::BadWeights,
       [](ScratchCheckpoint& s) {
         std::string b = read_bytes(s.path("model.safetensors"));
         b[8] = '#';
         write_bytes(s.path("model.safetensors"), b);
       }},
      {"unknown dtype name", ErrorCode::BadWeights, edit_header([](Safetensors& st) { st.header[kSomeWeight]["dtype"] = "BF17"; })},
      {"shape x dtype not equal to the byte span", ErrorCode::BadWeights,
       edit_header([](Safetensors& st) { st.header[kSomeWeight]["shape"] = {64, 63}; })},
      {"overlapping data spans", ErrorCode::BadWeights,
       edit_header([](Safetensors& st) {
         const json other = st.header["language_model.model.layers.0.feed_forward.w1.weight"]["data_offsets"];
         const size_t b = other[0].get<size_t>();
         st.header[kSomeWeight]["data_offsets"] = {b, b + 64 * 64 * 2};
       })},
      {"negative data offset", ErrorCode::BadWeights,
       edit_header([](Safetensors& st) { st.header[kSomeWeight]["data_offsets"][0] = -2; })},
      {"missing tensor", ErrorCode::MissingTensor, edit_header([](Safetensors& st) {
         st.header["renamed.weight"] = st.header[kSomeWeight];
         st.header.erase(kSomeWeight);
       })},
      {"tensor of the wrong shape", ErrorCode::TensorShape, edit_header([](Safetensors& st) {
         st.header["language_model.model.layers.0.feed_forward.w1.weight"]["shape"] = {64, 128};
       })},
      {"tensor of a known but unusable dtype", ErrorCode::TensorShape, edit_header([](Safetensors& st) {
         st.header[kSomeWeight]["dtype"] = "I16";
       })},
      {"missing weights file", ErrorCode::NotFound, [](ScratchCheckpoint& s) { fs::remove(s.path("model.safetensors")); }},
      {"a directory where the weights file should be", ErrorCode::NotFound,
       [](ScratchCheckpoint& s) {
         fs::remove(s.path("model.safetensors"));
         fs::create_directory(s.path("model.safetensors"));
       }},
      {"missing config.json", ErrorCode::NotFound, [](ScratchCheckpoint& s) { fs::remove(s.path("config.json")); }},
      {"config.json that is not JSON", ErrorCode::BadConfig,
       [](ScratchCheckpoint& s) { write_bytes(s.path("config.json"), "{\"vision_config\": "); }},
      {"config value out of range", ErrorCode::BadConfig,
       edit_config([](json& c) { c["llm_config"]["num_key_value_heads"] = 3; })},
      {"config field of the wrong type", ErrorCode::BadConfig,
       edit_config([](json& c) { c["vision_config"]["hidden_size"] = "wide"; })},
      {"unsupported rope scaling", ErrorCode::BadConfig,
       edit_config([](json& c) { c["llm_config"]["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}}; })},
      {"an index naming a shard that does not exist", ErrorCode::NotFound,
       [](ScratchCheckpoint& s) {
         write_bytes(s.path("model.safetensors.index.json"), R"({"weight_map": {"a": "model-00009.safetensors"}})");
       }},
      {"an index that is not JSON", ErrorCode::BadWeights,
       [](ScratchCheckpoint& s) { write_bytes(s.path("model.safetensors.index.json"), "{weight_map"); }},
      {"an index whose entry names no shard", ErrorCode::BadWeights,
       [](ScratchCheckpoint& s) { write_bytes(s.path("model.safetensors.index.json"), R"({"weight_map": {"a": 7}})"); }},
  };
  for (const Corruption& c : cases) {
    SUBCASE(c.what) {
      ScratchCheckpoint s;
      c.apply(s);
      CHECK(open_error(s.dir) == c.expected);
    }
  }
}

TEST_CASE("config.json errors name the file and the field") {
  try {
    parse_model_config(R"({"vision_config": {}, "llm_config": {}})", "/m/config.json");
    FAIL("accepted an empty config");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::BadConfig);
    CHECK(std::string(e.what()).find("/m/config.json") != std::string::npos);
    CHECK(std::string(e.what()).find("vision_config.hidden_size") != std::string::npos);
  }
}

TEST_CASE("config sizes far beyond any model are refused before any size is derived from them") {
  const json base = json::parse(read_bytes(test::fixture_path("tiny-a/config.json")));
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"vision_config", "image_size"}, {"vision_config", "hidden_size"}, {"llm_config", "vocab_size"},
      {"llm_config", "num_hidden_layers"}, {"llm_config", "max_position_embeddings"}};
  for (const auto& [section, field] : fields) {
    json c = base;
    c[section][field] = 1000000000000.0;
    CHECK_THROWS_AS(parse_model_config(c.dump(), "config.json"), Error);
    try {
      parse_model_config(c.dump(), "config.json");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::BadConfig);
      CHECK(std::string(e.what()).find(field) != std::string::npos);
    }
  }
}

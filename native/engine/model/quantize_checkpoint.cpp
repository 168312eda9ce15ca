#include "model/quantize_checkpoint.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "model/checkpoint.h"
#include "ops/int8.h"

namespace vlac {
namespace {

namespace fs = std::filesystem;

struct Planned {
  std::string name;
  std::string dtype;  // "F32" (scales), "BF16", "I8"
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  std::string source;  // the Linear a scale or I8 tensor belongs to
};

class Writer {
 public:
  explicit Writer(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "wb")) {
    if (!f_) fail(ErrorCode::BadArgument, "cannot write " + path + ": " + std::strerror(errno));
  }
  ~Writer() {
    if (f_) std::fclose(f_);
  }
  void write(const void* data, size_t n) {
    if (n && std::fwrite(data, 1, n, f_) != n) fail(ErrorCode::BadArgument, "cannot write " + path_ + ": " + std::strerror(errno));
  }
  void close() {
    FILE* f = f_;
    f_ = nullptr;
    if (std::fclose(f) != 0) fail(ErrorCode::BadArgument, "cannot write " + path_ + ": " + std::strerror(errno));
  }

 private:
  std::string path_;
  FILE* f_;
};

}  // namespace

QuantizeCheckpointReport quantize_checkpoint(const std::string& in_dir, const std::string& out_dir,
                                             const QuantizeCheckpointOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  if (fs::exists(out_dir, ec) && fs::equivalent(in_dir, out_dir, ec))
    fail(ErrorCode::BadArgument, "quantize: the output folder must differ from the input folder " + in_dir);
  const std::unique_ptr<Checkpoint> ck = Checkpoint::open(in_dir);
  if (!ck->quantization().empty())
    fail(ErrorCode::BadArgument, in_dir + " is already quantized (" + ck->quantization() + ")");
  fs::create_directories(out_dir, ec);
  if (!fs::is_directory(out_dir)) fail(ErrorCode::BadArgument, "quantize: cannot create the folder " + out_dir);

  // Data order: F32 scales, then BF16, then I8, so that every F32 and BF16 span is aligned.
  std::vector<Planned> scales, bf16s, int8s;
  for (const auto& [name, shape] : required_tensor_shapes(ck->config())) {
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    const bool quantize = is_quantizable_linear(name) && (options.quantize_lm_head || name != "language_model.output.weight");
    if (quantize) {
      scales.push_back({name + ".scale", "F32", {shape[0]}, static_cast<uint64_t>(shape[0]) * 4, name});
      int8s.push_back({name, "I8", shape, static_cast<uint64_t>(numel), name});
    } else {
      bf16s.push_back({name, "BF16", shape, static_cast<uint64_t>(numel) * 2, name});
    }
  }
  std::vector<Planned> order = scales;
  order.insert(order.end(), bf16s.begin(), bf16s.end());
  order.insert(order.end(), int8s.begin(), int8s.end());

  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}, {"vlac_quantization", kInt8Quantization}};
  uint64_t offset = 0;
  for (const Planned& t : order) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::string path = join_path(out_dir, "model.safetensors");
  Writer w(path);
  const uint64_t len = text.size();
  w.write(&len, 8);
  w.write(text.data(), text.size());
  // Scales need the quantization, which the I8 tensors written later need too: quantize each
  // Linear once, keep its codes until the I8 section (codes are 1 byte per weight, written in order).
  const int64_t total = static_cast<int64_t>(order.size());
  int64_t done = 0;
  auto progress = [&] {
    ++done;
    if (options.on_progress) options.on_progress(done, total);
  };
  std::vector<ops::QuantizedWeight> quantized;
  quantized.reserve(int8s.size());
  for (const Planned& s : scales) {
    const std::vector<int64_t>& shape = ck->shape(s.source);
    quantized.push_back(ops::quantize_weight_bf16(ck->bf16(s.source), shape[0], shape[1]));
    w.write(quantized.back().scales().data(), s.bytes);
    progress();
  }
  for (const Planned& t : bf16s) {
    w.write(ck->bf16(t.name), t.bytes);
    progress();
  }
  for (size_t i = 0; i < int8s.size(); ++i) {
    const std::vector<int8_t> rows = quantized[i].rows();
    w.write(rows.data(), rows.size());
    quantized[i] = ops::QuantizedWeight();  // free as we go
    progress();
  }
  w.close();

  // The folder's other files; config.json last (a folder with a config.json is complete).
  fs::remove(join_path(out_dir, "config.json"), ec);
  fs::remove(join_path(out_dir, "model.safetensors.index.json"), ec);
  for (const auto& entry : fs::directory_iterator(in_dir)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || file == "config.json" || file == "model.safetensors.index.json" ||
        entry.path().extension() == ".safetensors")
      continue;
    fs::copy_file(entry.path(), fs::path(out_dir) / file, fs::copy_options::overwrite_existing, ec);
    if (ec) fail(ErrorCode::BadArgument, "quantize: cannot copy " + entry.path().string() + ": " + ec.message());
  }
  fs::copy_file(fs::path(in_dir) / "config.json", fs::path(out_dir) / "config.json", fs::copy_options::overwrite_existing,
                ec);
  if (ec) fail(ErrorCode::BadArgument, "quantize: cannot copy config.json: " + ec.message());

  QuantizeCheckpointReport r;
  r.quantized = static_cast<int64_t>(int8s.size());
  r.bytes_written = 8 + len + offset;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace vlac

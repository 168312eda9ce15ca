#include "model/quantize_checkpoint.h"

#include <chrono>
#include <filesystem>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "model/checkpoint.h"
#include "model/safetensors_writer.h"
#include "ops/int8.h"

namespace vlac {
namespace {

namespace fs = std::filesystem;

struct Planned {
  std::string name;
  std::vector<int64_t> shape;
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

  // Each Linear is quantized first (its outlier columns decide the header), then the data is
  // written in the order F32 / I32 (scales, outlier weights and columns), BF16, I8, so that every
  // 4- and 2-byte span is aligned. Codes are held until the I8 section (1 byte per weight).
  std::vector<Planned> linears, bf16s;
  for (const auto& [name, shape] : required_tensor_shapes(ck->config())) {
    const bool quantize = is_quantizable_linear(name) && (options.quantize_lm_head || name != "language_model.output.weight");
    (quantize ? linears : bf16s).push_back({name, shape});
  }
  const int64_t total = static_cast<int64_t>(2 * linears.size() + bf16s.size());
  int64_t done = 0;
  auto progress = [&] {
    ++done;
    if (options.on_progress) options.on_progress(done, total);
  };
  std::vector<ops::QuantizedWeight> quantized;
  quantized.reserve(linears.size());
  for (const Planned& l : linears) {
    quantized.push_back(ops::quantize_weight_bf16(ck->bf16(l.name), l.shape[0], l.shape[1]));
    progress();
  }

  std::vector<SafetensorsWriter::Tensor> layout;
  auto numel = [](const std::vector<int64_t>& shape) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n;
  };
  for (size_t i = 0; i < linears.size(); ++i) {
    const std::string& name = linears[i].name;
    const int64_t N = linears[i].shape[0];
    layout.push_back({name + ".scale", "F32", {N}, static_cast<uint64_t>(N) * 4});
    const int64_t n_out = static_cast<int64_t>(quantized[i].outlier_columns().size());
    if (n_out) {
      layout.push_back({name + ".outlier_weights", "F32", {n_out, N}, static_cast<uint64_t>(n_out * N) * 4});
      layout.push_back({name + ".outlier_columns", "I32", {n_out}, static_cast<uint64_t>(n_out) * 4});
    }
  }
  for (const Planned& t : bf16s) layout.push_back({t.name, "BF16", t.shape, numel(t.shape) * 2});
  for (const Planned& l : linears) layout.push_back({l.name, "I8", l.shape, numel(l.shape)});

  SafetensorsWriter w(join_path(out_dir, "model.safetensors"), layout,
                      {{"format", "pt"}, {"vlac_quantization", kInt8Quantization}});
  for (const ops::QuantizedWeight& q : quantized) {
    w.write(q.scales().data(), q.scales().size() * 4);
    const std::vector<float> outliers = q.outlier_weight_rows();
    w.write(outliers.data(), outliers.size() * 4);
    w.write(q.outlier_columns().data(), q.outlier_columns().size() * 4);
  }
  for (const Planned& t : bf16s) {
    w.write(ck->bf16(t.name), numel(t.shape) * 2);
    progress();
  }
  for (ops::QuantizedWeight& q : quantized) {
    const std::vector<int8_t> rows = q.rows();
    w.write(rows.data(), rows.size());
    q = ops::QuantizedWeight();  // free as we go
    progress();
  }
  const uint64_t bytes_written = w.close();

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
  r.quantized = static_cast<int64_t>(linears.size());
  r.bytes_written = bytes_written;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace vlac

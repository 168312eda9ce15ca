// vlac_cli: the C++ command line over the engine, for machines without Node. A thin user of the
// library: argument parsing, PPM/raw frame reading, printing; every model step is an engine call.
//
//   vlac_cli generate --model DIR [--image FILE]... (--ids 1,2,3 | --text "...") [--max-tokens N]
//            [--temperature T] [--top-k K] [--top-p P] [--seed S] [--logprobs K] [--threads N]
//            [--max-context N] [--json]
//   vlac_cli info --model DIR [--json]
//   vlac_cli random-checkpoint OUT --preset vlac-2b|tiny [--tokenizer-from DIR] [--shards N] [--seed S]
//   vlac_cli bench --model DIR [--scenario S]... [--compare A B] [--weights W] [--threads N] [--iterations N]
//            [--warmup N] [--seconds S] [--reply-tokens N] [--decode-tokens N] [--tick-ms T] [--no-cache]
//            [--no-torch-peak] [--logits-dir DIR] [--out FILE.json] [--json]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "bench/benchmark.h"
#include "bench/table.h"
#include "common/cpu_features.h"
#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "common/thread_pool.h"
#include "image/preprocess.h"
#include "model/quantize_checkpoint.h"
#include "model/random_checkpoint.h"
#include "ops/op_table.h"
#include "runtime/model.h"
#include "runtime/sequence.h"

using namespace vlac;

namespace {

const char* const kUsage =
    "usage:\n"
    "  vlac_cli generate --model DIR [--image FILE]... (--ids 1,2,3 | --text \"...\") [--max-tokens N]\n"
    "           [--temperature T] [--top-k K] [--top-p P] [--seed S] [--logprobs K] [--threads N]\n"
    "           [--max-context N] [--precision fp32|bf16] [--json]\n"
    "      FILE: a binary PPM (P6, any size; squashed to the tile with the VLAC resize) or raw RGB of\n"
    "      exactly tile x tile x 3 bytes. In --text each <image> becomes <img>, the tile's\n"
    "      <IMG_CONTEXT> tokens and </img>; the text gets BOS. --ids go in as given.\n"
    "  vlac_cli info --model DIR [--json]\n"
    "  vlac_cli random-checkpoint OUT --preset vlac-2b|tiny [--tokenizer-from DIR] [--shards N] [--seed S]\n"
    "  vlac_cli bench --model DIR [--scenario S]... [--compare A B] [--weights bf16|int8] [--threads N]\n"
    "           [--iterations N] [--warmup N] [--seconds S] [--reply-tokens N] [--decode-tokens N]\n"
    "           [--tick-ms T] [--no-cache] [--no-torch-peak] [--max-context N] [--logits-dir DIR]\n"
    "           [--precision fp32|bf16] [--out FILE.json] [--json]\n"
    "      S: vit-tile, prefill:N, decode[:CTX], pair, pair-ref:N, done, trajectory:B, stream, stream-ref:N\n"
    "      (comma-separated or repeated); the same benchmark and JSON as `npx vlac bench`\n"
    "      (native/engine/bench; schema docs/bench-schema.json). Prints a table, or the JSON with --json.\n"
    "      --compare A B: A and B written device,weights[,threads], run interleaved in one run, with\n"
    "      the ratio B/A per scenario, e.g. --compare cpu,bf16,2 cpu,int8,2 or --compare cpu,bf16,1 cpu,bf16,2.\n"
    "      --tick-ms T paces the stream pushes T ms apart. --no-torch-peak skips the torch peaks\n"
    "      (python3, then /usr/bin/python3, with torch; VLAC_BENCH_PYTHON names another interpreter).\n"
    "      --precision bf16 rounds the activations of the ViT, projector and prefill products to bf16\n"
    "      (the PyTorch bf16 numerics; vdpbf16ps where the CPU has AVX-512 BF16); default fp32.\n"
    "  vlac_cli quantize IN OUT [--keep-lm-head-bf16]\n"
    "      writes OUT, a pre-quantized copy of checkpoint IN (int8 Linears + per-channel scales,\n"
    "      docs/int8.md) that loads as weights 'int8' without re-quantizing.\n";

// --name value pairs, repeatable ones collected in order; bare words are positionals.
struct Args {
  std::map<std::string, std::vector<std::string>> options;
  std::vector<std::string> positional;
  std::map<std::string, bool> flags;

  bool has(const std::string& k) const { return options.count(k) != 0; }
  std::string get(const std::string& k, const std::string& fallback = "") const {
    auto it = options.find(k);
    return it == options.end() ? fallback : it->second.back();
  }
  int64_t integer(const std::string& k, int64_t fallback) const {
    if (!has(k)) return fallback;
    const std::string v = get(k);
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end) fail(ErrorCode::BadArgument, "--" + k + " must be an integer (got '" + v + "')");
    return n;
  }
  double number(const std::string& k, double fallback) const {
    if (!has(k)) return fallback;
    const std::string v = get(k);
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end) fail(ErrorCode::BadArgument, "--" + k + " must be a number (got '" + v + "')");
    return d;
  }
};

Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& flag_names) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0) {
      a.positional.push_back(s);
      continue;
    }
    s = s.substr(2);
    if (std::find(flag_names.begin(), flag_names.end(), s) != flag_names.end()) {
      a.flags[s] = true;
      continue;
    }
    if (i + 1 >= argc) fail(ErrorCode::BadArgument, "--" + s + " needs a value");
    a.options[s].push_back(argv[++i]);
  }
  return a;
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || v < 0 || v > INT32_MAX) fail(ErrorCode::BadArgument, "--ids: '" + item + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return ids;
}

// One tile (uint8 HWC) from a binary PPM of any size (VLAC resize) or raw RGB of the tile size.
std::vector<uint8_t> read_frame(const std::string& path, int tile) {
  const std::string bytes = read_text_file(path);
  if (bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] == '6') {
    size_t pos = 2;
    int fields[3];
    for (int& f : fields) {
      while (pos < bytes.size() && (std::isspace(static_cast<unsigned char>(bytes[pos])) || bytes[pos] == '#')) {
        if (bytes[pos] == '#')
          while (pos < bytes.size() && bytes[pos] != '\n') ++pos;
        else
          ++pos;
      }
      size_t start = pos;
      while (pos < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[pos]))) ++pos;
      if (start == pos) fail(ErrorCode::BadImage, path + ": malformed PPM header");
      f = std::atoi(bytes.substr(start, pos - start).c_str());
    }
    ++pos;  // the single whitespace before the samples
    const int width = fields[0], height = fields[1];
    if (fields[2] != 255) fail(ErrorCode::BadImage, path + ": only 8-bit PPM (maxval 255) is supported");
    validate_image_size(width, height, path);
    if (bytes.size() < pos + static_cast<size_t>(width) * height * 3) fail(ErrorCode::BadImage, path + ": truncated PPM");
    const ImageTiles t = preprocess_image(reinterpret_cast<const uint8_t*>(bytes.data()) + pos, width, height,
                                          ResizeMode::Vlac, 1, 1, tile, false, path);
    return t.rgb;
  }
  if (bytes.size() != static_cast<size_t>(tile) * tile * 3)
    fail(ErrorCode::BadImage, path + ": neither a P6 PPM nor raw RGB of " + std::to_string(tile) + "x" +
                                  std::to_string(tile) + "x3 bytes (" + std::to_string(bytes.size()) + " bytes)");
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// --precision fp32|bf16: the activations the ViT, projector and prefill products read (WeightOptions).
bool bf16_activations(const Args& a) {
  const std::string p = a.get("precision", "fp32");
  if (p != "fp32" && p != "bf16") fail(ErrorCode::BadArgument, "--precision must be fp32 or bf16, got '" + p + "'");
  return p == "bf16";
}

int cmd_generate(const Args& a) {
  if (!a.has("model")) fail(ErrorCode::BadArgument, "generate needs --model DIR");
  if (a.has("ids") == a.has("text")) fail(ErrorCode::BadArgument, "generate needs exactly one of --ids and --text");
  ModelOptions mo;
  mo.max_context = a.integer("max-context", mo.max_context);
  mo.threads = static_cast<int>(a.integer("threads", 0));
  mo.weights.bf16_activations = bf16_activations(a);
  auto t0 = std::chrono::steady_clock::now();
  auto model = Model::load(a.get("model"), mo);
  const double load_ms = ms_since(t0);

  const auto images = a.options.count("image") ? a.options.at("image") : std::vector<std::string>{};
  std::vector<uint8_t> tiles;
  for (const auto& path : images) {
    const auto tile = read_frame(path, static_cast<int>(model->tile_size()));
    tiles.insert(tiles.end(), tile.begin(), tile.end());
  }
  std::vector<int32_t> ids;
  if (a.has("ids")) {
    ids = parse_ids(a.get("ids"));
  } else {
    std::string text = a.get("text"), body = "<img>";
    for (int64_t i = 0; i < model->image_tokens_per_tile(); ++i) body += "<IMG_CONTEXT>";
    body += "</img>";
    size_t found = 0, pos = 0;
    while ((pos = text.find("<image>", pos)) != std::string::npos) {
      text.replace(pos, 7, body);
      pos += body.size();
      ++found;
    }
    if (found != images.size())
      fail(ErrorCode::BadArgument, "--text has " + std::to_string(found) + " <image> placeholders for " +
                                       std::to_string(images.size()) + " --image files");
    ids = model->tokenizer().encode(text, true);
  }

  t0 = std::chrono::steady_clock::now();
  const std::vector<float> rows = model->encode_tiles(tiles.data(), static_cast<int64_t>(images.size()));
  const double encode_ms = ms_since(t0);
  auto seq = model->create_sequence();
  t0 = std::chrono::steady_clock::now();
  seq->prefill(ids.data(), static_cast<int64_t>(ids.size()), rows.data(),
               static_cast<int64_t>(rows.size()) / model->hidden_size());
  const double prefill_ms = ms_since(t0);

  GenerateOptions g;
  g.max_tokens = a.integer("max-tokens", 32);
  g.temperature = a.number("temperature", 0.0);
  g.top_k = a.integer("top-k", 0);
  g.top_p = a.number("top-p", 1.0);
  if (a.has("seed")) g.seed = static_cast<uint64_t>(a.integer("seed", 0));
  g.logprobs = static_cast<int>(a.integer("logprobs", a.flags.count("json") ? 5 : 0));
  t0 = std::chrono::steady_clock::now();
  const GenerateResult r = seq->generate(g);
  const double decode_ms = ms_since(t0);

  if (a.flags.count("json")) {
    json steps = json::array();
    for (const auto& s : r.steps) {
      json top = json::array();
      for (const auto& t : s.top)
        top.push_back({{"id", t.id}, {"token", model->tokenizer().id_to_token(t.id)}, {"logprob", t.logprob}});
      steps.push_back({{"id", s.id}, {"token", model->tokenizer().id_to_token(s.id)}, {"logprob", s.logprob}, {"top", top}});
    }
    const json out = {{"ids", r.ids},
                      {"text", r.text},
                      {"finishReason", finish_reason_name(r.finish_reason)},
                      {"promptTokens", ids.size()},
                      {"steps", steps},
                      {"timing",
                       {{"loadMs", load_ms}, {"encodeMs", encode_ms}, {"prefillMs", prefill_ms}, {"decodeMs", decode_ms}}}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << r.text << "\n";
    std::cerr << ids.size() << " prompt tokens, " << images.size() << " tiles, " << r.ids.size() << " generated ("
              << finish_reason_name(r.finish_reason) << "); load " << load_ms << " ms, encode " << encode_ms
              << " ms, prefill " << prefill_ms << " ms, decode " << decode_ms << " ms\n";
  }
  return 0;
}

int cmd_info(const Args& a) {
  if (!a.has("model")) fail(ErrorCode::BadArgument, "info needs --model DIR");
  auto model = Model::load(a.get("model"));
  const ModelConfig& c = model->config();
  const json out = {
      {"cpuFeatures", cpu_feature_names()},
      {"isa", ops::isa_name(ops::active_isa())},
      {"threads", num_threads()},
      {"model",
       {{"dir", a.get("model")},
        {"visionLayers", c.vision.num_layers},
        {"visionLayersUsed", c.vision_layers_used()},
        {"visionHidden", c.vision.hidden_size},
        {"llmLayers", c.llm.num_layers},
        {"hidden", c.llm.hidden_size},
        {"heads", c.llm.num_heads},
        {"kvHeads", c.llm.num_kv_heads},
        {"vocab", c.llm.vocab_size},
        {"tileSize", c.image_size},
        {"imageTokens", model->image_tokens_per_tile()},
        {"storedDtype", model->checkpoint().stored_dtype()},
        {"maxPositionEmbeddings", c.llm.max_position_embeddings},
        {"ropeTheta", c.llm.rope_theta},
        {"stopIds", model->default_stop_ids()}}},
      {"unusedTensors", model->checkpoint().unused_tensors()},
      {"memory",
       {{"weightsBytes", model->checkpoint().weight_bytes()},
        {"kvCacheBytesPerSequence", model->kv_cache_bytes_per_sequence()},
        {"maxContext", model->max_context()}}},
  };
  if (a.flags.count("json")) {
    std::cout << out.dump(2) << "\n";
  } else {
    for (auto it = out.begin(); it != out.end(); ++it) std::cout << it.key() << ": " << it.value().dump() << "\n";
  }
  return 0;
}

int cmd_random_checkpoint(const Args& a) {
  if (a.positional.size() != 1) fail(ErrorCode::BadArgument, "random-checkpoint needs one OUT folder");
  if (!a.has("preset")) fail(ErrorCode::BadArgument, "random-checkpoint needs --preset vlac-2b|tiny");
  RandomCheckpointOptions o;
  o.seed = static_cast<uint64_t>(a.integer("seed", 0));
  o.shards = static_cast<int>(a.integer("shards", 1));
  o.tokenizer_from = a.get("tokenizer-from");
  const auto t0 = std::chrono::steady_clock::now();
  write_random_checkpoint(a.positional[0], random_checkpoint_preset(a.get("preset")), o);
  std::cerr << "wrote " << a.positional[0] << " (random weights, preset " << a.get("preset") << ") in "
            << ms_since(t0) / 1000.0 << " s\n";
  return 0;
}

int cmd_quantize(const Args& a) {
  if (a.positional.size() != 2) fail(ErrorCode::BadArgument, "quantize needs IN and OUT folders");
  QuantizeCheckpointOptions o;
  o.quantize_lm_head = !a.flags.count("keep-lm-head-bf16");
  int64_t shown = -1;
  o.on_progress = [&](int64_t done, int64_t total) {
    const int64_t pct = done * 100 / total;
    if (pct / 10 != shown / 10) std::cerr << "quantize: " << pct << " % (" << done << "/" << total << " tensors)\n";
    shown = pct;
  };
  const QuantizeCheckpointReport r = quantize_checkpoint(a.positional[0], a.positional[1], o);
  std::cerr << "wrote " << a.positional[1] << ": " << r.quantized << " int8 Linears, " << r.bytes_written
            << " bytes, in " << r.seconds << " s\n";
  return 0;
}

WeightFormat weight_format(const std::string& name) {
  if (name == "bf16") return WeightFormat::Bf16;
  if (name == "int8") return WeightFormat::Int8;
  fail(ErrorCode::BadArgument, "--weights must be bf16 or int8, got '" + name + "'");
}

int cmd_bench(const Args& a) {
  if (!a.has("model")) fail(ErrorCode::BadArgument, "bench needs --model DIR");
  BenchOptions o;
  if (a.has("scenario")) {
    for (const std::string& v : a.options.at("scenario")) {
      size_t start = 0;
      while (start <= v.size()) {
        const size_t comma = v.find(',', start);
        const std::string one = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!one.empty()) o.scenarios.push_back(one);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
  } else {
    o.scenarios = {"pair"};
  }
  o.iterations = static_cast<int>(a.integer("iterations", o.iterations));
  o.warmup = static_cast<int>(a.integer("warmup", o.warmup));
  o.seconds = a.number("seconds", 0);
  o.reply_tokens = static_cast<int>(a.integer("reply-tokens", o.reply_tokens));
  o.decode_tokens = static_cast<int>(a.integer("decode-tokens", o.decode_tokens));
  o.tick_ms = a.number("tick-ms", 0);
  o.no_cache = a.flags.count("no-cache") != 0;
  o.torch_peak = a.flags.count("no-torch-peak") == 0;
  if (const char* python = std::getenv("VLAC_BENCH_PYTHON")) o.pythons = {python};
  o.logits_dir = a.get("logits-dir");
  // Progress only where a person watches (a terminal); logs get one line per scenario.
  const bool tty = isatty(2) != 0;
  o.on_progress = [tty](const std::string& name, int done, int total) {
    if (tty) std::cerr << "\r" << name << " " << done << "/" << (total ? std::to_string(total) : std::string("?")) << "   " << std::flush;
    else if (done == total) std::cerr << name << ": " << done << " iterations\n";
  };
  ModelOptions mo;
  mo.max_context = a.integer("max-context", 4096);
  mo.weights.bf16_activations = bf16_activations(a);

  json report;
  if (a.has("compare")) {
    // --compare A B: A is the option's value, B the one word after it.
    if (a.positional.size() != 1) fail(ErrorCode::BadArgument, "--compare needs two configurations: --compare A B (e.g. cpu,bf16,2 cpu,int8,2)");
    if (a.has("weights") || a.has("threads")) fail(ErrorCode::BadArgument, "--compare A B gives weights and threads per configuration; drop --weights/--threads");
    const BenchConfigSpec specs[2] = {parse_bench_config(a.get("compare")), parse_bench_config(a.positional[0])};
    // One model per weights format: configurations that differ only in threads share it.
    std::map<std::string, std::shared_ptr<Model>> models;
    std::vector<BenchConfig> configs;
    for (const auto& spec : specs) {
      auto& model = models[spec.weights];
      if (!model) {
        ModelOptions m = mo;
        m.weights.format = weight_format(spec.weights);
        model = Model::load(a.get("model"), m);
      }
      BenchConfig c;
      c.model = model.get();
      c.threads = spec.threads;
      c.label = spec.label;
      c.device = spec.device;
      configs.push_back(c);
    }
    report = run_benchmark_compare(configs, o);
  } else {
    if (!a.positional.empty()) fail(ErrorCode::BadArgument, "bench: unexpected argument '" + a.positional[0] + "'");
    mo.threads = static_cast<int>(a.integer("threads", 0));
    mo.weights.format = weight_format(a.get("weights", "bf16"));
    auto model = Model::load(a.get("model"), mo);
    report = run_benchmark(*model, o);
  }
  if (tty) std::cerr << "\n";
  if (a.has("out")) std::ofstream(a.get("out")) << report.dump(2) << "\n";
  std::cout << (a.flags.count("json") ? report.dump(2) + "\n" : format_bench_table(report));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    const Args a = parse_args(argc, argv, 2, {"json", "keep-lm-head-bf16", "no-cache", "no-torch-peak"});
    if (command == "generate") return cmd_generate(a);
    if (command == "info") return cmd_info(a);
    if (command == "random-checkpoint") return cmd_random_checkpoint(a);
    if (command == "bench") return cmd_bench(a);
    if (command == "quantize") return cmd_quantize(a);
    std::cerr << "unknown command '" << command << "'\n" << kUsage;
    return 2;
  } catch (const vlac::Error& e) {
    std::cerr << error_code_name(e.code()) << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ERR_VLAC_INTERNAL: " << e.what() << "\n";
    return 1;
  }
}

#include "bench/table.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

namespace vlac {

namespace {

std::string number(const json& v) {
  if (!v.is_number()) return "-";
  const double d = v.get<double>();
  char buf[32];
  std::snprintf(buf, sizeof(buf), d >= 100 || d <= -100 ? "%.0f" : "%.2f", d);
  return buf;
}

std::string ratio(const json& v) {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", v.get<double>());
  return buf;
}

std::string mib(const json& v) {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", v.get<double>() / (1024.0 * 1024.0));
  return buf;
}

std::string peaks_line(const std::string& who, const json& p) {
  std::ostringstream s;
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%speaks at %d thread(s): engine %.1f GFLOP/s fp32 FMA, %.1f GB/s memory read", who.c_str(),
                p.value("threads", 0), p.value("fp32_fma_gflops", 0.0), p.value("memory_gbs", 0.0));
  s << buf;
  if (p.contains("bf16_dot_gflops") && p["bf16_dot_gflops"].is_number()) {
    std::snprintf(buf, sizeof(buf), ", %.1f GFLOP/s bf16 dot", p["bf16_dot_gflops"].get<double>());
    s << buf;
  }
  if (p.contains("int8_dot_gops") && p["int8_dot_gops"].is_number()) {
    std::snprintf(buf, sizeof(buf), ", %.1f GOP/s int8 dot", p["int8_dot_gops"].get<double>());
    s << buf;
  }
  const json& t = p["torch"];
  if (t.value("status", "") == "measured") {
    std::snprintf(buf, sizeof(buf), "; torch %s: %.1f GFLOP/s bf16 matmul, %.1f fp32 (%s), %.1f GB/s copy",
                  t.value("torch_version", "").c_str(), t.value("bf16_matmul_gflops", 0.0), t.value("fp32_matmul_gflops", 0.0),
                  t.value("fp32_gemm", "").c_str(), t.value("copy_gbs", 0.0));
    s << buf;
  } else {
    s << "; torch " << t.value("status", "skipped");
  }
  std::snprintf(buf, sizeof(buf), "\n  graded against %.1f GFLOP/s (%s) and %.1f GB/s (%s)", p["compute"].value("gflops", 0.0),
                p["compute"].value("source", "").c_str(), p["memory"].value("gbs", 0.0), p["memory"].value("source", "").c_str());
  s << buf;
  return s.str();
}

std::vector<std::string> figures(const json& s) {
  const json& st = s["stages_ms"];
  const json& tp = s["throughput"];
  return {number(s["p50_ms"]),         number(s["p90_ms"]),      number(s["p99_ms"]),    number(s["max_ms"]),
          number(s["mean_ms"]),        number(st["image_decode"]), number(st["resize"]), number(st["encode"]),
          number(st["prefill"]),       number(st["decode"]),     number(st["parse"]),    number(st["other"]),
          number(tp["value"]) + " " + tp.value("unit", ""),
          mib(s["peak_rss_bytes"]),     number(s["gflops"]),      number(s["gbs"]),       number(s["floor_ms"]),
          number(s["ratio_to_floor"])};
}

const std::vector<std::string> kFigureHeads = {"p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms", "img decode", "resize",
                                               "ViT",    "prefill", "decode", "parse",  "other",   "throughput",
                                               "peak RSS MiB", "GFLOP/s", "GB/s", "floor ms", "x floor"};

std::string align(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  std::ostringstream s;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const std::string pad(w[i] - r[i].size(), ' ');
      line += i == 0 || (i == 1 && rows[0][1] == "configuration") ? r[i] + pad : pad + r[i];
      if (i + 1 < r.size()) line += "  ";
    }
    s << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
  }
  return s.str();
}

}  // namespace

std::string format_bench_table(const json& report) {
  std::ostringstream out;
  out << "stages in ms (means); x floor: p50 over the floor max(FLOP / compute peak, bytes / memory peak)\n";
  if (!report.contains("configurations")) {
    out << peaks_line("", report["peaks"]) << "\n";
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"scenario"});
    rows[0].insert(rows[0].end(), kFigureHeads.begin(), kFigureHeads.end());
    for (const auto& name : report["settings"]["scenarios"]) {
      std::vector<std::string> r{name.get<std::string>()};
      const auto f = figures(report["scenarios"][r[0]]);
      r.insert(r.end(), f.begin(), f.end());
      rows.push_back(r);
    }
    out << align(rows);
    return out.str();
  }
  const json& configs = report["configurations"];
  for (const auto& c : configs) out << peaks_line(c.value("label", "") + ": ", c["peaks"]) << "\n";
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"scenario", "configuration"});
  rows[0].insert(rows[0].end(), kFigureHeads.begin(), kFigureHeads.end());
  const std::string ratio_head = configs.back().value("label", "B") + " / " + configs.front().value("label", "A");
  rows[0].push_back("p50 ratio");
  rows[0].push_back("mean ratio");
  for (const auto& name : report["settings"]["scenarios"]) {
    const std::string n = name.get<std::string>();
    for (size_t i = 0; i < configs.size(); ++i) {
      std::vector<std::string> r{i == 0 ? n : "", configs[i].value("label", "")};
      const auto f = figures(configs[i]["scenarios"][n]);
      r.insert(r.end(), f.begin(), f.end());
      const bool last = i + 1 == configs.size();
      r.push_back(last ? ratio(report["comparison"][n]["p50_ratio"]) : "");
      r.push_back(last ? ratio(report["comparison"][n]["mean_ratio"]) : "");
      rows.push_back(r);
    }
  }
  out << align(rows) << "ratios: " << ratio_head << " (below 1: the second configuration is faster)\n";
  return out.str();
}

}  // namespace vlac

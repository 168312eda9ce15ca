#include "bench/torch_peaks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace vlac {

namespace {

// The measurement, run as `python -c kScript THREADS N`. It prints one line "VLAC_TORCH_PEAKS {json}"
// as its last line; without torch that JSON is {"torch": null, "error": ...}. "VLAC_TORCH_IMPORTED"
// before the timing tells a measurement that failed from a python without torch.
// Debian's torch links the reference BLAS for fp32 torch.matmul (~4 GFLOP/s on one core), so fp32 is
// also timed through oneDNN (torch's fast fp32 GEMM, the one bench/pytorch_baseline.py uses) and
// the better of the two reported; the slow BLAS is probed at 512 first so that it never takes seconds.
constexpr const char* kScript = R"PY(
import json, sys, time
def emit(d):
    print("VLAC_TORCH_PEAKS " + json.dumps(d), flush=True)
try:
    import torch
except Exception as e:
    emit({"torch": None, "error": "%s: %s" % (type(e).__name__, e)})
    sys.exit(0)
threads, n = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
print("VLAC_TORCH_IMPORTED " + torch.__version__, flush=True)
t_start = time.perf_counter()
def best(fn, reps=3):
    fn()
    b = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        b = min(b, time.perf_counter() - t0)
    return b
g = torch.Generator().manual_seed(0)
a = torch.randn(n, n, generator=g)
b = torch.randn(n, n, generator=g)
ab, bb = a.bfloat16(), b.bfloat16()
out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "gemm_size": n}
out["bf16_matmul_gflops"] = 2.0 * n ** 3 / best(lambda: torch.matmul(ab, bb)) / 1e9
s = 512
small = 2.0 * s ** 3 / best(lambda: torch.matmul(a[:s, :s], b[:s, :s]), reps=1) / 1e9
fp32, kind = small, "matmul"
if small > 50:
    fp32 = 2.0 * n ** 3 / best(lambda: torch.matmul(a, b)) / 1e9
try:
    am, bm = a.to_mkldnn(), b.to_mkldnn()
    onednn = 2.0 * n ** 3 / best(lambda: torch._C._nn.mkldnn_linear(am, bm, None)) / 1e9
    if onednn > fp32:
        fp32, kind = onednn, "onednn"
except Exception:
    pass
out["fp32_matmul_gflops"], out["fp32_gemm"] = fp32, kind
words = 64 << 20
src = torch.ones(words, dtype=torch.float32)
dst = torch.empty_like(src)
out["copy_gbs"] = 2.0 * 4 * words / best(lambda: dst.copy_(src)) / 1e9
out["seconds"] = time.perf_counter() - t_start
emit(out)
)PY";

struct Outcome {
  bool started = false;
  bool timed_out = false;
  int status = 0;
  std::string output;
};

// Runs argv with stdout and stderr into one pipe; kills it (SIGKILL) when the deadline passes.
Outcome run_with_timeout(const std::vector<std::string>& argv, double timeout_s) {
  Outcome o;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return o;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    o.output = std::strerror(rc);
    return o;
  }
  o.started = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      o.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline check above ends it
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child closed its output
    o.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  o.status = wstatus;
  return o;
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\n\r ");
  if (end == std::string::npos) return "";
  const size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

json measure_torch_peaks(const TorchPeakOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  json tried = json::array();
  for (const std::string& python : options.pythons) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double left = options.timeout_s - elapsed;
    if (left <= 0) break;
    const Outcome o = run_with_timeout(
        {python, "-c", kScript, std::to_string(options.threads), std::to_string(options.gemm_size)}, left);
    if (!o.started) {
      tried.push_back({{"python", python}, {"result", "not started: " + o.output}});
      continue;
    }
    const std::string marker = "VLAC_TORCH_PEAKS ";
    const size_t at = o.output.rfind(marker);
    json result;
    if (at != std::string::npos) {
      const size_t eol = o.output.find('\n', at);
      result = json::parse(o.output.substr(at + marker.size(), eol == std::string::npos ? std::string::npos : eol - at - marker.size()),
                           nullptr, false);
    }
    if (!result.is_object()) {
      if (o.timed_out)
        return {{"status", "failed"}, {"python", python}, {"message", "timed out after " + std::to_string(left) + " s"}};
      if (o.output.find("VLAC_TORCH_IMPORTED ") != std::string::npos)
        return {{"status", "failed"}, {"python", python}, {"message", last_line(o.output)}};
      const std::string why = last_line(o.output);
      tried.push_back({{"python", python}, {"result", why.empty() ? "exit status " + std::to_string(o.status) : why}});
      continue;
    }
    if (result.value("torch", json()).is_null()) {
      tried.push_back({{"python", python}, {"result", result.value("error", std::string("no torch"))}});
      continue;
    }
    json r = {{"status", "measured"}, {"python", python}, {"torch_version", result["torch"]}};
    for (const char* k : {"threads", "gemm_size", "bf16_matmul_gflops", "fp32_matmul_gflops", "fp32_gemm", "copy_gbs", "seconds"})
      r[k] = result[k];
    return r;
  }
  return {{"status", "absent"}, {"tried", tried}};
}

}  // namespace vlac

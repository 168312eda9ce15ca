#include "bench/machine.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/cpu_features.h"
#include "common/thread_pool.h"
#include "ops/op_table.h"

namespace vlac {

namespace {

// The value after "key:" on the first line of a /proc file that starts with key, or "".
std::string proc_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

// "123456 kB" -> bytes; 0 when absent.
uint64_t kib_field(const char* file, const std::string& key) {
  const std::string v = proc_field(file, key);
  return v.empty() ? 0 : std::stoull(v) * 1024;
}

}  // namespace

json machine_description() {
  utsname u{};
  std::string os = "unknown";
  if (uname(&u) == 0) os = std::string(u.sysname) + " " + u.release + " " + u.machine;
  const std::string model = proc_field("/proc/cpuinfo", "model name");
  return {{"cpu_model", model.empty() ? json(nullptr) : json(model)},
          {"physical_cores", physical_core_count()},
          {"logical_cpus", static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN))},
          {"memory_bytes", kib_field("/proc/meminfo", "MemTotal")},
          {"features", cpu_feature_names()},
          {"os", os}};
}

json binary_description() {
#ifdef VLAC_PACKAGE_VERSION
  const json version = VLAC_PACKAGE_VERSION;
#else
  const json version = nullptr;
#endif
#if defined(__clang__)
  const std::string compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  const std::string compiler = std::string("gcc ") + __VERSION__;
#else
  const std::string compiler = "unknown";
#endif
  json sanitizers = json::array();
#if defined(__SANITIZE_ADDRESS__)
  sanitizers.push_back("address");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  sanitizers.push_back("address");
#endif
#endif
#ifdef __OPTIMIZE__
  const bool optimized = true;
#else
  const bool optimized = false;
#endif
#ifdef NDEBUG
  const bool assertions = false;
#else
  const bool assertions = true;
#endif
  return {{"package_version", version},
          {"engine_build", {{"compiler", compiler}, {"optimized", optimized}, {"assertions", assertions}, {"sanitizers", sanitizers}}},
          {"isa", ops::isa_name(ops::active_isa())}};
}

ResidentHighWater::ResidentHighWater() {
  std::ofstream f("/proc/self/clear_refs");
  resettable_ = static_cast<bool>(f << "5" << std::flush) && kib_field("/proc/self/status", "VmHWM") > 0;
}

uint64_t ResidentHighWater::reset() {
  if (resettable_) {
    std::ofstream f("/proc/self/clear_refs");
    f << "5" << std::flush;
  }
  return kib_field("/proc/self/status", "VmRSS");
}

uint64_t ResidentHighWater::peak() const {
  if (resettable_) return kib_field("/proc/self/status", "VmHWM");
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<uint64_t>(r.ru_maxrss) * 1024;  // kilobytes on Linux
}

}  // namespace vlac

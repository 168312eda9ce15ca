// What a benchmark report says about where it ran (the machine, the binary) and the resident-memory
// high-water mark of the process, which the benchmark reads around every timed iteration.
#pragma once

#include <cstdint>

#include "common/json.h"

namespace vlac {

// { "cpu_model", "physical_cores", "logical_cpus", "memory_bytes", "features": [...], "os" }
json machine_description();

// { "package_version" (null when the build did not get it), "engine_build": { "compiler",
//   "optimized", "assertions", "sanitizers" }, "isa": the op table's instruction set }
json binary_description();

// The process's resident-set high-water mark over an interval: reset() at its start (writes "5"
// to /proc/self/clear_refs, which restarts VmHWM at the current RSS), read at its end. Where the
// reset is not allowed, the high-water mark is the process lifetime's (getrusage ru_maxrss) and
// `method()` says so.
class ResidentHighWater {
 public:
  ResidentHighWater();
  // Starts an interval; returns the resident bytes now.
  uint64_t reset();
  // The high-water mark (bytes) since the last reset (or over the lifetime, see method()).
  uint64_t peak() const;
  // "vmhwm-reset" (per interval) or "rusage-lifetime".
  const char* method() const { return resettable_ ? "vmhwm-reset" : "rusage-lifetime"; }
  bool resettable() const { return resettable_; }

 private:
  bool resettable_ = false;
};

}  // namespace vlac

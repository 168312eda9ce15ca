#include "common/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VLAC_SPIN_PAUSE() _mm_pause()
#else
#define VLAC_SPIN_PAUSE() std::this_thread::yield()
#endif

namespace vlac {
namespace {

// Ops run back to back (hundreds per decoded token); a worker that went to sleep costs a futex wake
// (tens of microseconds) per op, so idle workers spin this long before they block.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(2000);

// A job is cut into up to this many ranges per thread, so that when the OS takes a core away (a
// machine shared with other work) the other threads absorb its share instead of waiting for it.
constexpr int kRangesPerThread = 4;
constexpr int kMaxThreads = 4096;  // kRangesPerThread x this must fit a ticket's 16-bit range count

thread_local bool t_inside_parallel_region = false;

// A job's ranges are fixed when it is published; which thread runs which is not: the caller and the
// workers claim ranges through one atomic ticket (generation | range count | next range), so a
// worker that the OS has descheduled (a machine shared with other processes) delays nothing: the
// caller runs the ranges nobody has claimed.
class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(wake_mutex_);
      stop_.store(true, std::memory_order_release);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int threads() const { return threads_; }

  // Returns false when another thread owns the pool (the caller then runs serially).
  bool run(int64_t n, int chunks, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> owner(dispatch_mutex_, std::try_to_lock);
    if (!owner.owns_lock()) return false;
    error_ = nullptr;
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(wake_mutex_);
      fn_ = &fn;
      n_ = n;
      chunks_ = chunks;
      done_.store(0, std::memory_order_relaxed);
      // the ticket first: a worker that sees the new generation must find its ranges
      gen = generation_.load(std::memory_order_relaxed) + 1;
      ticket_.store(make_ticket(gen, chunks, 0), std::memory_order_release);
      generation_.store(gen, std::memory_order_release);
    }
    wake_cv_.notify_all();
    run_claimed(gen);
    while (done_.load(std::memory_order_acquire) != chunks) VLAC_SPIN_PAUSE();
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  static uint64_t make_ticket(uint64_t gen, int chunks, int next) {
    return (gen << 32) | (static_cast<uint64_t>(chunks) << 16) | static_cast<uint64_t>(next);
  }

  // Runs ranges of job `gen` until none is left unclaimed.
  void run_claimed(uint64_t gen) {
    uint64_t t = ticket_.load(std::memory_order_acquire);
    for (;;) {
      if ((t >> 32) != (gen & 0xffffffffu)) return;  // that job is over
      const int chunks = static_cast<int>((t >> 16) & 0xffffu), next = static_cast<int>(t & 0xffffu);
      if (next >= chunks) return;
      if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      // The job cannot finish (and fn_, n_, chunks_ change) before this claimed range is done.
      run_chunk(next);
      done_.fetch_add(1, std::memory_order_acq_rel);
      t = ticket_.load(std::memory_order_acquire);
    }
  }

  void run_chunk(int index) {
    const int64_t begin = n_ * index / chunks_;
    const int64_t end = n_ * (index + 1) / chunks_;
    bool outer = t_inside_parallel_region;
    t_inside_parallel_region = true;
    try {
      (*fn_)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    t_inside_parallel_region = outer;
  }

  void worker_loop() {
    uint64_t seen = 0;  // the generation at construction
    for (;;) {
      auto spin_until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      for (int spins = 0; generation_.load(std::memory_order_acquire) == seen; ++spins) {
        if ((spins & 255) == 255 && std::chrono::steady_clock::now() > spin_until) {
          std::unique_lock<std::mutex> lock(wake_mutex_);
          wake_cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
          break;
        }
        VLAC_SPIN_PAUSE();
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_acquire)) return;
      run_claimed(seen);
    }
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex dispatch_mutex_;
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 0;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

std::mutex g_pool_mutex;
std::unique_ptr<Pool> g_pool;

Pool& pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (!g_pool) g_pool = std::make_unique<Pool>(physical_core_count());
  return *g_pool;
}

bool read_int_file(const std::string& path, int& value) {
  std::ifstream in(path);
  return static_cast<bool>(in >> value);
}

}  // namespace

int physical_core_count() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  int logical = 0;
  std::set<std::pair<int, int>> cores;  // (package, core) of each usable logical CPU
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &mask)) continue;
      ++logical;
      const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      int package = 0, core = 0;
      if (!read_int_file(dir + "physical_package_id", package) || !read_int_file(dir + "core_id", core)) {
        cores.clear();
        break;
      }
      cores.insert({package, core});
    }
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  if (logical > 0) return logical;
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

void set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads)
    fail(ErrorCode::BadArgument,
         "set_num_threads: thread count must be in [1, " + std::to_string(kMaxThreads) + "], got " + std::to_string(n));
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (g_pool && g_pool->threads() == n) return;
  g_pool.reset();
  g_pool = std::make_unique<Pool>(n);
}

int num_threads() { return pool().threads(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (!t_inside_parallel_region) {
    Pool& p = pool();
    const int64_t most = static_cast<int64_t>(p.threads()) * kRangesPerThread;
    const int chunks = p.threads() == 1 ? 1 : static_cast<int>(std::min<int64_t>(most, std::max<int64_t>(n / grain, 1)));
    if (chunks > 1 && p.run(n, chunks, fn)) return;
  }
  fn(0, n);
}

void parallel_for(int64_t n, int64_t grain, RangeFn fn, void* context) {
  parallel_for(n, grain, [fn, context](int64_t begin, int64_t end) { fn(context, begin, end); });
}

}  // namespace vlac

// The engine's dedicated inference thread for one model (toolchain.md: not the libuv pool, whose
// four threads sharp, fs and dns share). JS calls only enqueue a job and get a Promise; the job runs
// here, and its result is turned into JS values back on the JS thread through a thread-safe
// function. The queue is bounded (maxQueue: ERR_VLAC_BUSY), and shutdown() rejects what is still
// queued with ERR_VLAC_DISPOSED.
//
// Jobs run one at a time in the order they were posted, except generate calls (post_generate):
// those at the front of the queue, as many as the decoder has room for, are prepared in one batch
// and then decode together, one step per turn of the loop, while later calls join and other jobs
// run between the steps (runtime/call_scheduler.h).
#pragma once

#include <napi.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "runtime/call_scheduler.h"

namespace vlac::napi {

using vlac::GenerateCall;

class InferenceThread {
 public:
  InferenceThread(Napi::Env env, size_t max_queue);
  ~InferenceThread();

  // Runs `work` on the inference thread; `to_js` converts its result on the JS thread. Errors
  // thrown by either reject the promise with the matching VlacError code. A full queue rejects
  // with ERR_VLAC_BUSY, except for `Bookkeeping` jobs (creating, forking, disposing a sequence):
  // those do no compute, and their promises are not awaited by anyone, so they must never fail;
  // and `Background` jobs (a stream's prefetch of its next prefix, runtime/prefetch.h): at most one
  // per stream is queued, each ahead of the push that needs it, which would otherwise redo it.
  enum class Kind { Request, Bookkeeping, Background };
  template <typename R>
  Napi::Promise post(Napi::Env env, std::function<R()> work, std::function<Napi::Value(Napi::Env, R&)> to_js,
                     Kind kind = Kind::Request) {
    auto result = std::make_shared<std::unique_ptr<R>>();
    return enqueue(
        env, [work, result] { *result = std::make_unique<R>(work()); },
        [to_js, result](Napi::Env e) { return to_js(e, **result); }, kind);
  }

  // A generateBatch call, served by the scheduler; `to_js` converts it once settled (call->error
  // rejects). Bounded by maxQueue like a Request while it waits.
  Napi::Promise post_generate(Napi::Env env, std::shared_ptr<GenerateCall> call,
                              std::function<Napi::Value(Napi::Env, GenerateCall&)> to_js);

  // Stops taking jobs, rejects the queued ones, and resolves the returned promise once the job in
  // flight (if any) has finished and the thread has exited; then `after` runs on the JS thread.
  Napi::Promise shutdown(Napi::Env env, std::function<void()> after);
  bool stopped() const { return stopping_; }
  size_t queued() const;

 private:
  struct Job {
    InferenceThread* owner;
    std::function<void()> run;
    std::function<Napi::Value(Napi::Env)> settle;
    Napi::Promise::Deferred deferred;
    std::exception_ptr error;
    bool rejected_disposed = false;
    Kind kind = Kind::Request;
    std::shared_ptr<GenerateCall> call = nullptr;  // a generate call: admitted by the scheduler instead of run
  };
  Napi::Promise enqueue(Napi::Env env, std::function<void()> run, std::function<Napi::Value(Napi::Env)> settle,
                        Kind kind);
  Napi::Promise enqueue(Napi::Env env, Job* job);
  void loop();
  void settle_call(const std::shared_ptr<GenerateCall>& call);  // inference thread
  static void finish(Napi::Env env, Napi::Function, Job* job);
  void settled(Napi::Env env);  // one job fewer pending: unref the thread-safe function when idle

  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job*> queue_;
  size_t queued_requests_ = 0;  // the Request jobs in queue_ (what maxQueue bounds)
  size_t max_queue_;
  size_t pending_ = 0;  // jobs posted and not yet settled (JS thread only)
  bool stopping_ = false;
  bool refed_ = false;
  CallScheduler scheduler_;                            // inference thread only
  std::unordered_map<GenerateCall*, Job*> decoding_;  // admitted calls' jobs (inference thread only)
};

}  // namespace vlac::napi

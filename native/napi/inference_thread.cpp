#include "napi/inference_thread.h"

#include "common/error.h"
#include "napi/errors.h"

namespace vlac::napi {

InferenceThread::InferenceThread(Napi::Env env, size_t max_queue) : max_queue_(max_queue) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                        "vlac-inference", 0, 1);
  tsfn_.Unref(env);  // an idle engine must not keep the process alive
  thread_ = std::thread([this] { loop(); });
}

InferenceThread::~InferenceThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t InferenceThread::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

Napi::Promise InferenceThread::enqueue(Napi::Env env, std::function<void()> run,
                                       std::function<Napi::Value(Napi::Env)> settle, Kind kind) {
  auto* job = new Job{this, std::move(run), std::move(settle), Napi::Promise::Deferred::New(env), nullptr};
  job->kind = kind;
  return enqueue(env, job);
}

Napi::Promise InferenceThread::enqueue(Napi::Env env, Job* job) {
  const Kind kind = job->kind;
  Napi::Promise promise = job->deferred.Promise();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      job->deferred.Reject(make_error(env, "ERR_VLAC_DISPOSED", "the model was disposed").Value());
      delete job;
      return promise;
    }
    if (kind == Kind::Request && queued_requests_ >= max_queue_) {
      job->deferred.Reject(make_error(env, "ERR_VLAC_BUSY", "the request queue is full (maxQueue " +
                                                                std::to_string(max_queue_) + ")").Value());
      delete job;
      return promise;
    }
    queue_.push_back(job);
    if (kind == Kind::Request) ++queued_requests_;
  }
  if (pending_++ == 0 && !refed_) {
    tsfn_.Ref(env);
    refed_ = true;
  }
  wake_.notify_one();
  return promise;
}

Napi::Promise InferenceThread::post_generate(Napi::Env env, std::shared_ptr<GenerateCall> call,
                                             std::function<Napi::Value(Napi::Env, GenerateCall&)> to_js) {
  // The job's run is a no-op (a shutdown job has none); the scheduler admits it through `call`.
  auto* job = new Job{this, [] {}, [to_js, call](Napi::Env e) { return to_js(e, *call); },
                      Napi::Promise::Deferred::New(env), nullptr};
  job->call = std::move(call);
  return enqueue(env, job);
}

void InferenceThread::settle_call(const std::shared_ptr<GenerateCall>& call) {
  auto it = decoding_.find(call.get());
  Job* job = it->second;
  decoding_.erase(it);
  job->error = call->error;
  tsfn_.BlockingCall(job, finish);
}

void InferenceThread::loop() {
  const CallScheduler::Settled settled = [this](const std::shared_ptr<GenerateCall>& c) { settle_call(c); };
  for (;;) {
    Job* job = nullptr;
    std::vector<Job*> admitted;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || !scheduler_.idle(); });
      if (queue_.empty() && scheduler_.idle()) return;  // stopping, and nothing left
      // The front of the queue: the generate calls the decoder has room for, or one other job.
      size_t replies = 0;
      while (!queue_.empty() && queue_.front()->call &&
             scheduler_.has_room(replies, queue_.front()->call->batch.requests.size())) {
        admitted.push_back(queue_.front());
        replies += admitted.back()->call->batch.requests.size();
        queue_.pop_front();
      }
      // Once stopping, the calls decoding end (disposal aborts them at their next step) before the
      // shutdown job, whose settle joins this thread, is taken.
      if (admitted.empty() && !queue_.empty() && !queue_.front()->call && !(stopping_ && !scheduler_.idle())) {
        job = queue_.front();
        queue_.pop_front();
      }
      for (Job* j : admitted) {
        --queued_requests_;
        if (stopping_) j->rejected_disposed = true;  // queued before dispose: never run
      }
      if (job) {
        if (job->kind == Kind::Request) --queued_requests_;
        if (stopping_ && job->run) job->rejected_disposed = true;
      }
    }
    if (job) {
      if (job->run && !job->rejected_disposed) {
        try {
          job->run();
        } catch (...) {
          job->error = std::current_exception();
        }
      }
      tsfn_.BlockingCall(job, finish);
    }
    std::vector<std::shared_ptr<GenerateCall>> calls;
    for (Job* j : admitted) {
      if (j->rejected_disposed) {
        tsfn_.BlockingCall(j, finish);
        continue;
      }
      decoding_[j->call.get()] = j;
      calls.push_back(j->call);
    }
    scheduler_.admit(calls, settled);
    if (!scheduler_.idle()) scheduler_.step(settled);
  }
}

void InferenceThread::finish(Napi::Env env, Napi::Function, Job* job) {
  Napi::HandleScope scope(env);
  InferenceThread* owner = job->owner;
  const bool is_shutdown = !job->run;
  if (job->rejected_disposed) {
    job->deferred.Reject(make_error(env, "ERR_VLAC_DISPOSED", "the model was disposed").Value());
  } else {
    try {
      if (job->error) std::rethrow_exception(job->error);
      job->deferred.Resolve(guard(env, [&] { return job->settle(env); }));
    } catch (const Napi::Error& e) {
      job->deferred.Reject(e.Value());
    } catch (const vlac::Error& e) {
      job->deferred.Reject(make_error(env, e).Value());
    } catch (const std::bad_alloc&) {
      job->deferred.Reject(make_error(env, "ERR_VLAC_OUT_OF_MEMORY", "host memory allocation failed").Value());
    } catch (const std::exception& e) {
      job->deferred.Reject(
          make_error(env, "ERR_VLAC_INTERNAL", std::string("internal error (please report): ") + e.what()).Value());
    }
  }
  delete job;
  if (!is_shutdown) owner->settled(env);
}

void InferenceThread::settled(Napi::Env env) {
  if (pending_ > 0 && --pending_ == 0 && refed_ && !stopping_) {
    tsfn_.Unref(env);
    refed_ = false;
  }
}

Napi::Promise InferenceThread::shutdown(Napi::Env env, std::function<void()> after) {
  // The shutdown job goes last in the queue and is always run: it marks everything queued before it
  // (not yet started) as disposed, then its settle joins the exited thread and runs `after`.
  auto* job = new Job{this, nullptr, nullptr, Napi::Promise::Deferred::New(env), nullptr};
  Napi::Promise promise = job->deferred.Promise();
  job->settle = [this, after](Napi::Env e) -> Napi::Value {
    if (thread_.joinable()) thread_.join();
    if (refed_) {
      tsfn_.Unref(e);
      refed_ = false;
    }
    tsfn_.Release();
    after();
    return e.Undefined();
  };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      delete job;
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(env.Undefined());
      return d.Promise();
    }
    stopping_ = true;
    queue_.push_back(job);
  }
  if (!refed_) {
    tsfn_.Ref(env);
    refed_ = true;
  }
  wake_.notify_one();
  return promise;
}

}  // namespace vlac::napi

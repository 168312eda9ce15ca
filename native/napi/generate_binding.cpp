// Random-weight checkpoints for JS (`vlac demo`, benchmarks):
//   writeRandomCheckpoint(dir: string, options?: {
//       preset?: 'demo' | 'vlac-2b' | 'tiny',   // default 'demo'
//       shards?: number,                        // default 1
//       tokenizerFrom?: string,                 // default: the project's generated tokenizer
//       seed?: number,                          // integer in [0, 2^53), default 0
//       onProgress?: (written: number, total: number) => void,  // bytes of tensor data
//   }) -> Promise<void>
// Writing the vlac-2b preset is gigabytes of disk I/O, so it runs on its own std::thread (not the
// libuv pool, which fs, dns and sharp share) and reports back through a thread-safe function.
// Rejections carry the api.md §7 code; an exception thrown by onProgress stops the write and
// rejects the promise with that exception.
//   quantizeCheckpoint(inDir: string, outDir: string, options?: {
//       quantizeLmHead?: boolean,                            // default true
//       onProgress?: (done: number, total: number) => void,  // tensors written
//   }) -> Promise<{ quantized: number, bytes: number, seconds: number }>
// The pre-quantized int8 checkpoint of model/quantize_checkpoint.h (docs/int8.md), the same way.
#include <atomic>
#include <cmath>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <thread>

#include "common/error.h"
#include "model/quantize_checkpoint.h"
#include "model/random_checkpoint.h"
#include "napi/bindings.h"
#include "napi/errors.h"

namespace vlac::napi {

namespace {

// Shared by the JS call and the writing thread; the JS-thread parts are touched only there.
struct WriteJob {
  Napi::Promise::Deferred deferred;
  Napi::ThreadSafeFunction tsfn;
  Napi::FunctionReference on_progress;  // empty when none was given
  Napi::Reference<Napi::Value> callback_error;  // what onProgress threw (JS thread only)
  std::atomic<bool> stop{false};               // set when onProgress threw
  bool resolve_report = false;                 // quantizeCheckpoint: resolve with the report
  explicit WriteJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

// One message from the writing thread: progress, or the end (with the exception, if any).
struct Event {
  bool done = false;
  uint64_t written = 0, total = 0;
  std::exception_ptr error;
  QuantizeCheckpointReport report;  // quantizeCheckpoint's result, on the last event
};

Napi::Error to_js_error(Napi::Env env, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const vlac::Error& e) {
    return make_error(env, e);
  } catch (const std::bad_alloc&) {
    return make_error(env, "ERR_VLAC_OUT_OF_MEMORY", "host memory allocation failed");
  } catch (const std::exception& e) {
    return make_error(env, "ERR_VLAC_INTERNAL", std::string("internal error (please report): ") + e.what());
  } catch (...) {
    return make_error(env, "ERR_VLAC_INTERNAL", "internal error (please report): unknown exception");
  }
}

// Runs on the JS thread for each Event.
void deliver(Napi::Env env, Napi::Function, WriteJob* job, Event* event) {
  std::unique_ptr<Event> owned(event);
  if (env == nullptr) return;  // the environment is going away: nobody is left to tell
  Napi::HandleScope scope(env);
  if (!event->done) {
    if (job->on_progress.IsEmpty() || job->stop) return;
    try {
      job->on_progress.Call({Napi::Number::New(env, static_cast<double>(event->written)),
                             Napi::Number::New(env, static_cast<double>(event->total))});
    } catch (const Napi::Error& e) {
      job->callback_error = Napi::Persistent(e.Value().As<Napi::Value>());
      job->stop = true;
    }
    return;
  }
  if (!job->callback_error.IsEmpty()) {
    job->deferred.Reject(job->callback_error.Value());
  } else if (event->error) {
    job->deferred.Reject(to_js_error(env, event->error).Value());
  } else if (job->resolve_report) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("quantized", static_cast<double>(event->report.quantized));
    r.Set("bytes", static_cast<double>(event->report.bytes_written));
    r.Set("seconds", event->report.seconds);
    job->deferred.Resolve(r);
  } else {
    job->deferred.Resolve(env.Undefined());
  }
}

using Tsfn = Napi::TypedThreadSafeFunction<WriteJob, Event, deliver>;

Napi::Object arg_options(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject() || info[i].IsArray() || info[i].IsFunction())
    throw make_error(info.Env(), "ERR_VLAC_BAD_ARGUMENT", "options must be an object");
  return info[i].As<Napi::Object>();
}

bool present(const Napi::Object& o, const char* key) { return o.Has(key) && !o.Get(key).IsUndefined(); }

std::string option_string(const Napi::Object& o, const char* key, const std::string& fallback) {
  if (!present(o, key)) return fallback;
  const Napi::Value v = o.Get(key);
  if (!v.IsString()) throw make_error(o.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string("options.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// An integer option in [min_value, max_value] (both at most 2^53, so a double holds them exactly).
double option_integer(const Napi::Object& o, const char* key, double fallback, double min_value, double max_value) {
  if (!present(o, key)) return fallback;
  const Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= min_value && d <= max_value) || std::floor(d) != d)
    throw make_error(o.Env(), "ERR_VLAC_BAD_ARGUMENT",
                     std::string("options.") + key + " must be an integer in [" + std::to_string(int64_t(min_value)) +
                         ", " + std::to_string(int64_t(max_value)) + "]");
  return d;
}

Napi::Value write_random_checkpoint_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dir = arg_string(info, 0, "dir");
  if (dir.empty()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "dir must not be empty");
  const Napi::Object o = arg_options(info, 1);
  RandomCheckpointOptions options;
  options.preset = option_string(o, "preset", "demo");
  guard(env, [&] { random_checkpoint_preset(options.preset); });  // an unknown preset fails now, not later
  options.shards = static_cast<int>(option_integer(o, "shards", 1, 1, 100000));
  options.seed = static_cast<uint64_t>(option_integer(o, "seed", 0, 0, 9007199254740991.0));
  options.tokenizer_from = option_string(o, "tokenizerFrom", "");
  if (present(o, "tokenizerFrom") && options.tokenizer_from.empty())
    throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "options.tokenizerFrom must not be empty");

  auto job = std::make_shared<WriteJob>(env);
  if (present(o, "onProgress")) {
    const Napi::Value cb = o.Get("onProgress");
    if (!cb.IsFunction()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "options.onProgress must be a function");
    job->on_progress = Napi::Persistent(cb.As<Napi::Function>());
  }
  Napi::Promise promise = job->deferred.Promise();
  // The context pointer stays valid until the finalizer, which runs after the last release.
  auto* keep = new std::shared_ptr<WriteJob>(job);
  Tsfn tsfn = Tsfn::New(env, "vlac-write-checkpoint", 0, 1, job.get(),
                        [keep](Napi::Env, void*, WriteJob*) { delete keep; });
  options.on_progress = [tsfn, raw = job.get()](uint64_t written, uint64_t total) mutable {
    if (raw->stop) fail(ErrorCode::Aborted, "writing the checkpoint stopped: onProgress threw");
    auto* event = new Event{false, written, total, nullptr, {}};
    if (tsfn.NonBlockingCall(event) != napi_ok) delete event;  // closing: nobody to tell
  };
  std::thread([tsfn, dir, options = std::move(options)]() mutable {
    auto* done = new Event{true, 0, 0, nullptr, {}};
    try {
      write_random_checkpoint(dir, options);
    } catch (...) {
      done->error = std::current_exception();
    }
    options.on_progress = nullptr;  // drops its copy of the thread-safe function before the release
    if (tsfn.BlockingCall(done) != napi_ok) delete done;
    tsfn.Release();
  }).detach();
  return promise;
}

Napi::Value quantize_checkpoint_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string in_dir = arg_string(info, 0, "inDir");
  const std::string out_dir = arg_string(info, 1, "outDir");
  if (in_dir.empty() || out_dir.empty()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "inDir and outDir must not be empty");
  const Napi::Object o = arg_options(info, 2);
  QuantizeCheckpointOptions options;
  if (present(o, "quantizeLmHead")) {
    if (!o.Get("quantizeLmHead").IsBoolean())
      throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "options.quantizeLmHead must be a boolean");
    options.quantize_lm_head = o.Get("quantizeLmHead").As<Napi::Boolean>();
  }
  auto job = std::make_shared<WriteJob>(env);
  job->resolve_report = true;
  if (present(o, "onProgress")) {
    const Napi::Value cb = o.Get("onProgress");
    if (!cb.IsFunction()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "options.onProgress must be a function");
    job->on_progress = Napi::Persistent(cb.As<Napi::Function>());
  }
  Napi::Promise promise = job->deferred.Promise();
  auto* keep = new std::shared_ptr<WriteJob>(job);
  Tsfn tsfn = Tsfn::New(env, "vlac-quantize-checkpoint", 0, 1, job.get(),
                        [keep](Napi::Env, void*, WriteJob*) { delete keep; });
  options.on_progress = [tsfn, raw = job.get()](int64_t done, int64_t total) mutable {
    if (raw->stop) fail(ErrorCode::Aborted, "quantizing the checkpoint stopped: onProgress threw");
    auto* event = new Event{false, static_cast<uint64_t>(done), static_cast<uint64_t>(total), nullptr, {}};
    if (tsfn.NonBlockingCall(event) != napi_ok) delete event;
  };
  std::thread([tsfn, in_dir, out_dir, options = std::move(options)]() mutable {
    auto* done = new Event{true, 0, 0, nullptr, {}};
    try {
      done->report = quantize_checkpoint(in_dir, out_dir, options);
    } catch (...) {
      done->error = std::current_exception();
    }
    options.on_progress = nullptr;
    if (tsfn.BlockingCall(done) != napi_ok) delete done;
    tsfn.Release();
  }).detach();
  return promise;
}

}  // namespace

void register_generate_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("writeRandomCheckpoint", Napi::Function::New(env, write_random_checkpoint_js, "writeRandomCheckpoint"));
  exports.Set("quantizeCheckpoint", Napi::Function::New(env, quantize_checkpoint_js, "quantizeCheckpoint"));
}

}  // namespace vlac::napi

// NativeModel and NativeSequence: the loaded model and its sequences, as JS objects. Every call that
// computes is a job on the model's inference thread (inference_thread.h) and returns a Promise.
// Jobs of one model run one at a time in the order they were posted, so a sequence's calls are
// ordered without locks (fork and dispose are jobs too); generateBatch calls are batched by the
// thread's scheduler (inference_thread.h).
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>

#include "bench/benchmark.h"
#include "bench/table.h"
#include "common/cpu_features.h"
#include "common/page_buffer.h"
#include "common/thread_pool.h"
#include "napi/bindings.h"
#include "napi/errors.h"
#include "napi/inference_thread.h"
#include "napi/tokenizer_binding.h"
#include "runtime/cached_batch.h"
#include "runtime/model.h"
#include "runtime/prefetch.h"
#include "runtime/sequence.h"

namespace vlac::napi {

namespace {

using Clock = std::chrono::steady_clock;

// Cancellation shared between a JS call (its AbortSignal / timeout) and the job it started.
class CancelToken : public Napi::ObjectWrap<CancelToken> {
 public:
  explicit CancelToken(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CancelToken>(info) {}
  Napi::Value cancel(const Napi::CallbackInfo& info) {
    state->cancelled = true;
    return info.Env().Undefined();
  }
  struct State {
    std::atomic<bool> cancelled{false};
  };
  std::shared_ptr<State> state = std::make_shared<State>();
};

std::shared_ptr<CancelToken::State> cancel_state(const Napi::Value& v) {
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    if (o.InstanceOf(addon_data(o.Env()).cancel_token.Value())) return CancelToken::Unwrap(o)->state;
  }
  return nullptr;
}

struct ModelState {
  std::shared_ptr<Model> model;
  std::unique_ptr<ModelCaches> caches;  // set with the model; generateBatch goes through them
  std::atomic<bool> disposed{false};
};

Napi::Value steps_to_js(Napi::Env env, const Tokenizer& tok, const std::vector<GenerateStep>& steps) {
  Napi::Array out = Napi::Array::New(env, steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    Napi::Object s = Napi::Object::New(env);
    s.Set("id", steps[i].id);
    s.Set("logprob", steps[i].logprob);
    Napi::Array top = Napi::Array::New(env, steps[i].top.size());
    for (size_t k = 0; k < steps[i].top.size(); ++k) {
      Napi::Object t = Napi::Object::New(env);
      const int32_t id = steps[i].top[k].id;
      t.Set("id", id);
      t.Set("token", tok.decode(&id, 1, false));
      t.Set("logprob", steps[i].top[k].logprob);
      top.Set(static_cast<uint32_t>(k), t);
    }
    s.Set("top", top);
    out.Set(static_cast<uint32_t>(i), s);
  }
  return out;
}

Napi::Int32Array ids_to_js(Napi::Env env, const std::vector<int32_t>& ids) {
  Napi::Int32Array a = Napi::Int32Array::New(env, ids.size());
  std::copy(ids.begin(), ids.end(), a.Data());
  return a;
}

std::vector<int32_t> int32_array(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw make_error(v.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string(name) + " must be an Int32Array");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<float> float32_array(const Napi::Value& v, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw make_error(v.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string(name) + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

// Options of seq.generate as the TS layer validated them: numbers and ids only.
GenerateOptions generate_options(const Napi::Object& o) {
  GenerateOptions g;
  auto num = [&](const char* key, double fallback) {
    Napi::Value v = o.Get(key);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
  };
  g.max_tokens = static_cast<int64_t>(num("maxTokens", 32));
  g.temperature = num("temperature", 0);
  g.top_k = static_cast<int64_t>(num("topK", 0));
  g.top_p = num("topP", 1);
  g.logprobs = static_cast<int>(num("logprobs", 0));
  if (o.Get("seed").IsNumber()) g.seed = static_cast<uint64_t>(o.Get("seed").As<Napi::Number>().Int64Value());
  if (o.Get("stop").IsTypedArray()) g.stop_ids = int32_array(o.Get("stop"), "stop");
  return g;
}

Napi::Object result_to_js(Napi::Env env, const Tokenizer& tok, const GenerateResult& r, bool timed_out) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("ids", ids_to_js(env, r.ids));
  out.Set("text", r.text);
  out.Set("finishReason", finish_reason_name(r.finish_reason));
  out.Set("steps", steps_to_js(env, tok, r.steps));
  out.Set("timedOut", timed_out);
  return out;
}

Napi::Object counters_to_js(Napi::Env env, const CacheCounters& c) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("frameHits", static_cast<double>(c.frame_hits));
  out.Set("frameMisses", static_cast<double>(c.frame_misses));
  out.Set("prefixHits", static_cast<double>(c.prefix_hits));
  out.Set("prefixTokensReused", static_cast<double>(c.prefix_tokens_reused));
  out.Set("prefilledTokens", static_cast<double>(c.prefilled_tokens));
  return out;
}

// The abort rule of one call: its token, its deadline, and the model's disposal.
std::function<bool()> abort_rule(std::shared_ptr<ModelState> state, std::shared_ptr<CancelToken::State> token,
                                 double timeout_ms, std::shared_ptr<std::atomic<bool>> timed_out) {
  const bool has_deadline = timeout_ms > 0;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::microseconds(static_cast<int64_t>(has_deadline ? timeout_ms * 1000 : 0));
  return [state, token, has_deadline, deadline, timed_out] {
    if (state->disposed || (token && token->cancelled)) return true;
    if (has_deadline && Clock::now() >= deadline) {
      *timed_out = true;
      return true;
    }
    return false;
  };
}

// A sequence as the jobs see it. It is created (or forked) by a job whose promise nobody awaits,
// so a failure there is kept and rethrown by the next call on the sequence.
struct SequenceSlot {
  std::unique_ptr<Sequence> sequence;
  std::exception_ptr creation_error;
  bool disposed = false;
  Sequence& get() {
    if (creation_error) std::rethrow_exception(creation_error);
    if (disposed || !sequence) fail(ErrorCode::Disposed, "the sequence was disposed");
    return *sequence;
  }
  template <typename Fn>
  void create(Fn&& make) {
    try {
      sequence = make();
    } catch (...) {
      creation_error = std::current_exception();
    }
  }
};

class NativeSequence : public Napi::ObjectWrap<NativeSequence> {
 public:
  explicit NativeSequence(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeSequence>(info) {}

  std::shared_ptr<ModelState> state;
  InferenceThread* thread = nullptr;
  // Touched only on the inference thread (jobs are ordered), shared so jobs outlive this wrapper.
  std::shared_ptr<SequenceSlot> seq = std::make_shared<SequenceSlot>();

  void check_model(Napi::Env env) {
    if (state->disposed) throw make_error(env, "ERR_VLAC_DISPOSED", "the model was disposed");
  }

  // prefill(ids: Int32Array, imageRows?: Float32Array) -> Promise<length>
  Napi::Value prefill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    check_model(env);
    auto ids = std::make_shared<std::vector<int32_t>>(int32_array(info[0], "ids"));
    auto rows = std::make_shared<std::vector<float>>(float32_array(info[1], "image rows"));
    auto seq_ref = seq;
    auto st = state;
    return thread->post<int64_t>(
        env,
        [this_seq = seq_ref, ids, rows, st]() -> int64_t {
          if (st->disposed) fail(ErrorCode::Disposed, "the model was disposed");
          Sequence& s = this_seq->get();
          const int64_t hidden = st->model->hidden_size();
          if (rows->size() % static_cast<size_t>(hidden) != 0)
            fail(ErrorCode::BadArgument, "image rows must be a multiple of the hidden size " + std::to_string(hidden));
          s.prefill(ids->data(), static_cast<int64_t>(ids->size()), rows->empty() ? nullptr : rows->data(),
                    static_cast<int64_t>(rows->size()) / hidden);
          return s.length();
        },
        [](Napi::Env e, int64_t& len) -> Napi::Value { return Napi::Number::New(e, static_cast<double>(len)); });
  }

  // generate(options, cancelToken?) -> Promise<{ ids, text, finishReason, steps, timedOut, length }>
  Napi::Value generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    check_model(env);
    if (!info[0].IsObject()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto opts = std::make_shared<GenerateOptions>(generate_options(o));
    auto timed_out = std::make_shared<std::atomic<bool>>(false);
    const double timeout = o.Get("timeoutMs").IsNumber() ? o.Get("timeoutMs").As<Napi::Number>().DoubleValue() : 0;
    opts->should_abort = abort_rule(state, cancel_state(info[1]), timeout, timed_out);
    auto seq_ref = seq;
    auto st = state;
    struct Out {
      GenerateResult result;
      int64_t length;
    };
    return thread->post<Out>(
        env,
        [seq_ref, opts, st]() -> Out {
          if (st->disposed) fail(ErrorCode::Disposed, "the model was disposed");
          Sequence& s = seq_ref->get();
          GenerateResult r = s.generate(*opts);
          return Out{std::move(r), s.length()};
        },
        [st, timed_out](Napi::Env e, Out& out) -> Napi::Value {
          if (st->disposed) throw make_error(e, "ERR_VLAC_DISPOSED", "the model was disposed");
          Napi::Object js = result_to_js(e, st->model->tokenizer(), out.result, *timed_out);
          js.Set("length", Napi::Number::New(e, static_cast<double>(out.length)));
          return js;
        });
  }

  // fork() -> NativeSequence (the copy is made by a job, after every job already posted)
  Napi::Value fork(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    check_model(env);
    Napi::Object child_obj = addon_data(env).sequence.New({});
    NativeSequence* child = NativeSequence::Unwrap(child_obj);
    child->state = state;
    child->thread = thread;
    auto parent = seq;
    auto target = child->seq;
    thread->post<bool>(
              env,
              [parent, target]() -> bool {
                target->create([&] { return parent->get().fork(); });
                return true;
              },
              [](Napi::Env e, bool&) -> Napi::Value { return e.Undefined(); }, InferenceThread::Kind::Bookkeeping);
    return child_obj;
  }

  Napi::Value dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto target = seq;
    if (state->disposed) {  // the model's shutdown freed every sequence already
      auto done = Napi::Promise::Deferred::New(env);
      done.Resolve(env.Undefined());
      return done.Promise();
    }
    return thread->post<bool>(
        env,
        [target]() -> bool {
          target->sequence.reset();
          target->disposed = true;
          return true;
        },
        [](Napi::Env e, bool&) -> Napi::Value { return e.Undefined(); }, InferenceThread::Kind::Bookkeeping);
  }
};

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  // new NativeModel(maxQueue)
  explicit NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {
    const int64_t max_queue = info.Length() > 0 && info[0].IsNumber() ? arg_int(info, 0, "maxQueue") : 256;
    thread_ = std::make_unique<InferenceThread>(info.Env(), static_cast<size_t>(std::max<int64_t>(1, max_queue)));
  }

  // Collected without dispose(), or torn down with its env (a terminated worker): the job in flight
  // stops at its next step, so that joining the inference thread (~InferenceThread) is quick.
  ~NativeModel() override { state_->disposed = true; }

  // load(dir, { maxContext, threads, weights: 'bf16' | 'int8', quantizeLmHead, precision: 'fp32' | 'bf16',
  //             frameCacheBytes, prefixCacheBytes }) -> Promise<void>
  Napi::Value load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string dir = arg_string(info, 0, "modelDir");
    ModelOptions opts;
    CacheOptions cache;
    if (info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      auto bytes = [&](const char* key, uint64_t fallback) {
        Napi::Value v = o.Get(key);
        if (!v.IsNumber()) return fallback;
        const double d = v.As<Napi::Number>().DoubleValue();
        if (!(d >= 0) || d > 9007199254740991.0)
          throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", std::string(key) + " must be a byte count >= 0");
        return static_cast<uint64_t>(d);
      };
      cache.frame_bytes = bytes("frameCacheBytes", cache.frame_bytes);
      cache.prefix_bytes = bytes("prefixCacheBytes", cache.prefix_bytes);
      if (o.Get("maxContext").IsNumber()) opts.max_context = o.Get("maxContext").As<Napi::Number>().Int64Value();
      if (o.Get("threads").IsNumber()) opts.threads = o.Get("threads").As<Napi::Number>().Int32Value();
      if (o.Get("weights").IsString()) {
        const std::string w = o.Get("weights").As<Napi::String>().Utf8Value();
        if (w != "bf16" && w != "int8")
          throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "weights must be 'bf16' or 'int8', got '" + w + "'");
        opts.weights.format = w == "int8" ? WeightFormat::Int8 : WeightFormat::Bf16;
      }
      if (o.Get("quantizeLmHead").IsBoolean()) opts.weights.quantize_lm_head = o.Get("quantizeLmHead").As<Napi::Boolean>();
      if (o.Get("precision").IsString()) {
        const std::string p = o.Get("precision").As<Napi::String>().Utf8Value();
        if (p != "fp32" && p != "bf16")
          throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "precision must be 'fp32' or 'bf16', got '" + p + "'");
        opts.weights.bf16_activations = p == "bf16";
      }
    }
    auto st = state_;
    return thread_->post<bool>(
        env,
        [dir, opts, cache, st]() -> bool {
          st->model = Model::load(dir, opts);
          st->caches = std::make_unique<ModelCaches>(cache);
          return true;
        },
        [](Napi::Env e, bool&) -> Napi::Value { return e.Undefined(); });
  }

  Model& model(Napi::Env env) {
    if (state_->disposed) throw make_error(env, "ERR_VLAC_DISPOSED", "the model was disposed");
    if (!state_->model) throw make_error(env, "ERR_VLAC_INTERNAL", "internal error (please report): model not loaded");
    return *state_->model;
  }

  Napi::Value info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Model& m = model(env);
    const ModelConfig& c = m.config();
    Napi::Object out = Napi::Object::New(env);
    Napi::Object mi = Napi::Object::New(env);
    mi.Set("visionLayers", c.vision.num_layers);
    mi.Set("visionHidden", c.vision.hidden_size);
    mi.Set("llmLayers", c.llm.num_layers);
    mi.Set("hidden", c.llm.hidden_size);
    mi.Set("heads", c.llm.num_heads);
    mi.Set("kvHeads", c.llm.num_kv_heads);
    mi.Set("vocab", c.llm.vocab_size);
    mi.Set("imageSize", c.image_size);
    mi.Set("imageTokens", m.image_tokens_per_tile());
    mi.Set("maxPositionEmbeddings", c.llm.max_position_embeddings);
    mi.Set("storedDtype", m.checkpoint().stored_dtype());
    out.Set("model", mi);
    Napi::Array unused = Napi::Array::New(env);
    for (size_t i = 0; i < m.checkpoint().unused_tensors().size(); ++i)
      unused.Set(static_cast<uint32_t>(i), m.checkpoint().unused_tensors()[i]);
    out.Set("unusedTensors", unused);
    out.Set("weightsBytes", static_cast<double>(m.resident_weight_bytes()));
    out.Set("weights", weight_format_name(m.weights().format));
    out.Set("lmHeadInt8", m.llm().lm_head_is_int8());
    out.Set("precision", m.weights().bf16_activations ? "bf16" : "fp32");
    out.Set("buildMs", m.build_seconds() * 1000.0);
    out.Set("kvCacheBytesPerSequence", static_cast<double>(m.kv_cache_bytes_per_sequence()));
    out.Set("maxContext", static_cast<double>(m.max_context()));
    out.Set("threads", num_threads());
    out.Set("stopIds", ids_to_js(env, m.default_stop_ids()));
    const ModelCaches& caches = *state_->caches;
    out.Set("cacheBytes", static_cast<double>(caches.bytes()));
    out.Set("cache", counters_to_js(env, caches.counters()));
    return out;
  }

  Napi::Value tokenizer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return NativeTokenizer::wrap(env, std::make_shared<Tokenizer>(model(env).tokenizer()));
  }

  // encodeTiles(tiles: Uint8Array [n, S, S, 3] | Float32Array [n, 3, S, S], n) -> Promise<Float32Array>
  Napi::Value encode_tiles(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Model& m = model(env);
    const int64_t n = arg_int(info, 1, "tile count");
    const int64_t S = m.tile_size();
    const uint64_t per_tile = static_cast<uint64_t>(S) * S * 3;
    auto u8 = std::make_shared<std::vector<uint8_t>>();
    auto f32 = std::make_shared<std::vector<float>>();
    if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
      if (n < 1 || a.ElementLength() != per_tile * static_cast<uint64_t>(n))
        throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "tiles must hold " + std::to_string(n) + " x " +
                                                           std::to_string(S) + " x " + std::to_string(S) + " x 3 bytes");
      u8->assign(a.Data(), a.Data() + a.ElementLength());
    } else {
      *f32 = float32_array(info[0], "pixels");
      if (n < 1 || f32->size() != per_tile * static_cast<uint64_t>(n))
        throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "pixels must hold " + std::to_string(n) + " x 3 x " +
                                                           std::to_string(S) + " x " + std::to_string(S) + " values");
    }
    auto st = state_;
    return thread_->post<std::vector<float>>(
        env,
        [st, u8, f32, n]() -> std::vector<float> {
          if (st->disposed) fail(ErrorCode::Disposed, "the model was disposed");
          return u8->empty() ? st->model->encode_tiles(f32->data(), n) : st->model->encode_tiles(u8->data(), n);
        },
        [st](Napi::Env e, std::vector<float>& rows) -> Napi::Value {
          if (st->disposed) throw make_error(e, "ERR_VLAC_DISPOSED", "the model was disposed");
          Napi::Float32Array out = Napi::Float32Array::New(e, rows.size());
          std::copy(rows.begin(), rows.end(), out.Data());
          return out;
        });
  }

  Napi::Value create_sequence(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    model(env);
    Napi::Object obj = addon_data(env).sequence.New({});
    NativeSequence* s = NativeSequence::Unwrap(obj);
    s->state = state_;
    s->thread = thread_.get();
    auto target = s->seq;
    auto st = state_;
    thread_->post<bool>(
        env,
        [st, target]() -> bool {
          target->create([&] { return st->model->create_sequence(); });
          return true;
        },
        [](Napi::Env e, bool&) -> Napi::Value { return e.Undefined(); }, InferenceThread::Kind::Bookkeeping);
    return obj;
  }

  // generateBatch([{ ids: Int32Array, tiles?: Uint8Array, nTiles }], options, cancelToken?)
  //   -> Promise<{ replies: [...], timing: { encodeMs, prefillMs, decodeMs }, cache: counters,
  //                batch: { preparedWith, peakDecoding } }>
  // One batched call of the task layer through the model's frame and prefix caches
  // (runtime/cached_batch.h): the tiles missing from the cache go through the ViT in one pass, every
  // prompt's uncached part is prefilled in one batched forward, then the replies are decoded
  // together. Calls of several callers waiting at once are prepared in one batch and decode
  // together with the calls already decoding (runtime/call_scheduler.h).
  Napi::Value generate_batch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Model& m = model(env);
    if (!info[0].IsArray()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "requests must be an array");
    if (!info[1].IsObject()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "options must be an object");
    struct Request {
      std::vector<int32_t> ids;
      PageBuffer tiles;  // mapped, not malloc'd: freed on the inference thread (common/page_buffer.h)
      int64_t n_tiles = 0;
    };
    Napi::Array arr = info[0].As<Napi::Array>();
    auto requests = std::make_shared<std::vector<Request>>(arr.Length());
    const uint64_t per_tile = static_cast<uint64_t>(m.tile_size()) * m.tile_size() * 3;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      if (!arr.Get(i).IsObject()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "requests[" + std::to_string(i) + "] must be an object");
      Napi::Object r = arr.Get(i).As<Napi::Object>();
      (*requests)[i].ids = int32_array(r.Get("ids"), "ids");
      // one Uint8Array, or one per image (joined here: the JS side then makes no joined copy)
      std::vector<Napi::Uint8Array> parts;
      const Napi::Value tiles = r.Get("tiles");
      if (tiles.IsTypedArray()) parts.push_back(tiles.As<Napi::Uint8Array>());
      if (tiles.IsArray())
        for (uint32_t k = 0; k < tiles.As<Napi::Array>().Length(); ++k) {
          const Napi::Value part = tiles.As<Napi::Array>().Get(k);
          if (!part.IsTypedArray() || part.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
            throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "requests[" + std::to_string(i) + "].tiles[" + std::to_string(k) + "] must be a Uint8Array");
          parts.push_back(part.As<Napi::Uint8Array>());
        }
      size_t bytes = 0;
      for (const auto& t : parts) bytes += t.ElementLength();
      if (bytes % per_tile != 0)
        throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "requests[" + std::to_string(i) + "].tiles has a partial tile");
      (*requests)[i].n_tiles = static_cast<int64_t>(bytes / per_tile);
      (*requests)[i].tiles = guard(env, [&] { return PageBuffer(bytes); });
      size_t at = 0;
      for (const auto& t : parts) {
        if (t.ElementLength() > 0) std::memcpy((*requests)[i].tiles.data() + at, t.Data(), t.ElementLength());
        at += t.ElementLength();
      }
    }
    Napi::Object o = info[1].As<Napi::Object>();
    auto opts = std::make_shared<GenerateOptions>(generate_options(o));
    auto timed_out = std::make_shared<std::atomic<bool>>(false);
    const double timeout = o.Get("timeoutMs").IsNumber() ? o.Get("timeoutMs").As<Napi::Number>().DoubleValue() : 0;
    opts->should_abort = abort_rule(state_, cancel_state(info[2]), timeout, timed_out);
    auto st = state_;
    auto call = std::make_shared<GenerateCall>();
    call->model = st->model;
    call->caches = st->caches.get();
    for (const auto& r : *requests)
      call->batch.requests.push_back({r.ids.data(), static_cast<int64_t>(r.ids.size()), r.tiles.data(), r.n_tiles});
    call->batch.after_encode = [st, opts, timed_out] {
      if (!opts->should_abort()) return;
      // the abort rule fires for disposal and deadline too; the error names which
      if (st->disposed) fail(ErrorCode::Disposed, "the model was disposed");
      if (*timed_out) fail(ErrorCode::Timeout, "the call passed its timeoutMs during the image encoding");
      fail(ErrorCode::Aborted, "the call was aborted");
    };
    call->options = *opts;
    return thread_->post_generate(
        env, call,
        // `requests` holds the buffers the call points into until it is settled
        [st, timed_out, requests](Napi::Env e, GenerateCall& out) -> Napi::Value {
          if (st->disposed) throw make_error(e, "ERR_VLAC_DISPOSED", "the model was disposed");
          Napi::Object js = Napi::Object::New(e);
          Napi::Array replies = Napi::Array::New(e, out.results.size());
          for (size_t i = 0; i < out.results.size(); ++i)
            replies.Set(static_cast<uint32_t>(i), result_to_js(e, st->model->tokenizer(), out.results[i], *timed_out));
          js.Set("replies", replies);
          Napi::Object timing = Napi::Object::New(e);
          timing.Set("encodeMs", out.stats.encode_ms);
          timing.Set("prefillMs", out.stats.prefill_ms);
          timing.Set("decodeMs", out.stats.decode_ms);
          js.Set("timing", timing);
          js.Set("cache", counters_to_js(e, out.stats.counts));
          js.Set("timedOut", Napi::Boolean::New(e, *timed_out));
          Napi::Object batch = Napi::Object::New(e);
          batch.Set("preparedWith", static_cast<double>(out.prepared_with));
          batch.Set("peakDecoding", static_cast<double>(out.peak_decoding));
          js.Set("batch", batch);
          return js;
        });
  }

  // prefetchPrefix({ ids: Int32Array, tiles?: Uint8Array }, cancelToken?)
  //   -> Promise<{ stored, cancelled, prefilledTokens }>
  // A stream's background prefill (runtime/prefetch.h): `ids` is the whole prompt of the stream's
  // next request, `tiles` those of its images but the last. Queued like a call (a push posted after
  // it waits for it) but never refused as busy; the token, close() of the stream, and dispose()
  // stop it at the next layer.
  Napi::Value prefetch_prefix(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Model& m = model(env);
    if (!info[0].IsObject()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "request must be an object");
    Napi::Object r = info[0].As<Napi::Object>();
    auto ids = std::make_shared<std::vector<int32_t>>(int32_array(r.Get("ids"), "ids"));
    auto tiles = std::make_shared<std::vector<uint8_t>>();
    const uint64_t per_tile = static_cast<uint64_t>(m.tile_size()) * m.tile_size() * 3;
    if (r.Get("tiles").IsTypedArray()) {
      Napi::Uint8Array t = r.Get("tiles").As<Napi::Uint8Array>();
      if (t.ElementLength() % per_tile != 0) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "tiles has a partial tile");
      tiles->assign(t.Data(), t.Data() + t.ElementLength());
    }
    auto timed_out = std::make_shared<std::atomic<bool>>(false);
    auto should_abort = abort_rule(state_, cancel_state(info[1]), 0, timed_out);
    auto st = state_;
    return thread_->post<PrefetchResult>(
        env,
        [st, ids, tiles, per_tile, should_abort]() -> PrefetchResult {
          if (st->disposed) fail(ErrorCode::Disposed, "the model was disposed");
          return vlac::prefetch_prefix(*st->model, ids->data(), static_cast<int64_t>(ids->size()), tiles->data(),
                                       static_cast<int64_t>(tiles->size() / per_tile), st->caches.get(), should_abort);
        },
        [](Napi::Env e, PrefetchResult& out) -> Napi::Value {
          Napi::Object js = Napi::Object::New(e);
          js.Set("stored", out.stored);
          js.Set("cancelled", out.cancelled);
          js.Set("prefilledTokens", static_cast<double>(out.counts.prefilled_tokens));
          return js;
        },
        InferenceThread::Kind::Background);
  }

  // benchmark({ scenarios: string[], warmup, iterations, seconds, replyTokens, decodeContext,
  //             decodeTokens, logitsDir, noCache, tickMs, torchPeak, pythons: string[],
  //             configurations?: [{ label, threads, model: NativeModel }] }) -> Promise<report JSON text>
  // (bench/benchmark.h). With configurations (two or more) it is run_benchmark_compare, on this
  // model's inference thread; the other models must have no call of their own running meanwhile
  // (the bench front end makes no other call).
  Napi::Value benchmark(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    model(env);
    if (!info[0].IsObject()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto opts = std::make_shared<BenchOptions>();
    Napi::Value sc = o.Get("scenarios");
    if (!sc.IsArray()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "scenarios must be an array of strings");
    for (uint32_t i = 0; i < sc.As<Napi::Array>().Length(); ++i) {
      Napi::Value v = sc.As<Napi::Array>().Get(i);
      if (!v.IsString()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "scenarios[" + std::to_string(i) + "] must be a string");
      opts->scenarios.push_back(v.As<Napi::String>().Utf8Value());
    }
    auto num = [&](const char* key, double fallback) {
      Napi::Value v = o.Get(key);
      return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
    };
    opts->warmup = static_cast<int>(num("warmup", opts->warmup));
    opts->iterations = static_cast<int>(num("iterations", opts->iterations));
    opts->seconds = num("seconds", opts->seconds);
    opts->reply_tokens = static_cast<int>(num("replyTokens", opts->reply_tokens));
    opts->decode_context = static_cast<int>(num("decodeContext", opts->decode_context));
    opts->decode_tokens = static_cast<int>(num("decodeTokens", opts->decode_tokens));
    opts->no_cache = o.Get("noCache").IsBoolean() && o.Get("noCache").As<Napi::Boolean>().Value();
    if (o.Get("logitsDir").IsString()) opts->logits_dir = o.Get("logitsDir").As<Napi::String>().Utf8Value();
    opts->tick_ms = num("tickMs", opts->tick_ms);
    if (o.Get("torchPeak").IsBoolean()) opts->torch_peak = o.Get("torchPeak").As<Napi::Boolean>().Value();
    if (o.Get("pythons").IsArray()) {
      opts->pythons.clear();
      Napi::Array a = o.Get("pythons").As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i)
        if (a.Get(i).IsString()) opts->pythons.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
    struct Config {
      std::shared_ptr<ModelState> state;
      BenchConfig config;
    };
    auto configs = std::make_shared<std::vector<Config>>();
    if (o.Get("configurations").IsArray()) {
      Napi::Array a = o.Get("configurations").As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        const std::string at = "configurations[" + std::to_string(i) + "]";
        if (!a.Get(i).IsObject()) throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", at + " must be an object");
        Napi::Object c = a.Get(i).As<Napi::Object>();
        Napi::Value m = c.Get("model");
        if (!m.IsObject() || !m.As<Napi::Object>().InstanceOf(addon_data(env).native_model.Value()))
          throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", at + ".model must be a NativeModel");
        Config k{NativeModel::Unwrap(m.As<Napi::Object>())->state_, {}};
        if (!k.state->model) throw make_error(env, "ERR_VLAC_DISPOSED", at + ": the model is not loaded or was disposed");
        k.config.threads = c.Get("threads").IsNumber() ? c.Get("threads").As<Napi::Number>().Int32Value() : 0;
        if (c.Get("label").IsString()) k.config.label = c.Get("label").As<Napi::String>().Utf8Value();
        configs->push_back(std::move(k));
      }
    }
    auto st = state_;
    return thread_->post<std::string>(
        env,
        [st, opts, configs]() -> std::string {
          if (st->disposed) fail(ErrorCode::Disposed, "the model was disposed");
          if (configs->empty()) return run_benchmark(*st->model, *opts).dump();
          std::vector<BenchConfig> list;
          for (auto& c : *configs) {
            if (c.state->disposed) fail(ErrorCode::Disposed, "benchmark configuration '" + c.config.label + "': the model was disposed");
            c.config.model = c.state->model.get();
            list.push_back(c.config);
          }
          return run_benchmark_compare(list, *opts).dump();
        },
        [](Napi::Env e, std::string& text) -> Napi::Value { return Napi::String::New(e, text); });
  }

  // dispose() -> Promise: calls in flight end at their next step and reject with ERR_VLAC_DISPOSED;
  // queued ones reject; the weights are freed once the thread has stopped.
  Napi::Value dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    state_->disposed = true;
    auto st = state_;
    return thread_->shutdown(env, [st] { st->model.reset(); });
  }

  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeModel",
                       {
                           InstanceMethod("load", &NativeModel::load),
                           InstanceMethod("info", &NativeModel::info),
                           InstanceMethod("tokenizer", &NativeModel::tokenizer),
                           InstanceMethod("encodeTiles", &NativeModel::encode_tiles),
                           InstanceMethod("createSequence", &NativeModel::create_sequence),
                           InstanceMethod("generateBatch", &NativeModel::generate_batch),
                           InstanceMethod("prefetchPrefix", &NativeModel::prefetch_prefix),
                           InstanceMethod("benchmark", &NativeModel::benchmark),
                           InstanceMethod("dispose", &NativeModel::dispose),
                       });
  }

 private:
  std::shared_ptr<ModelState> state_ = std::make_shared<ModelState>();
  std::unique_ptr<InferenceThread> thread_;
};

Napi::Value cpu_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array features = Napi::Array::New(env);
  const auto names = cpu_feature_names();
  for (size_t i = 0; i < names.size(); ++i) features.Set(static_cast<uint32_t>(i), names[i]);
  out.Set("features", features);
  out.Set("threads", num_threads());
  return out;
}

}  // namespace

void register_model_bindings(Napi::Env env, Napi::Object exports) {
  Napi::Function token_ctor = CancelToken::DefineClass(env, "CancelToken", {CancelToken::InstanceMethod("cancel", &CancelToken::cancel)});
  addon_data(env).cancel_token = Napi::Persistent(token_ctor);
  exports.Set("CancelToken", token_ctor);

  Napi::Function seq_ctor = NativeSequence::DefineClass(env, "NativeSequence",
                                                        {
                                                            NativeSequence::InstanceMethod("prefill", &NativeSequence::prefill),
                                                            NativeSequence::InstanceMethod("generate", &NativeSequence::generate),
                                                            NativeSequence::InstanceMethod("fork", &NativeSequence::fork),
                                                            NativeSequence::InstanceMethod("dispose", &NativeSequence::dispose),
                                                        });
  addon_data(env).sequence = Napi::Persistent(seq_ctor);
  exports.Set("NativeSequence", seq_ctor);
  Napi::Function model_ctor = NativeModel::define(env);
  addon_data(env).native_model = Napi::Persistent(model_ctor);
  exports.Set("NativeModel", model_ctor);
  exports.Set("formatBenchTable", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                return guard(info.Env(), [&] {
                  return Napi::String::New(info.Env(), format_bench_table(json::parse(arg_string(info, 0, "report"))));
                });
              }));
  exports.Set("cpuInfo", Napi::Function::New(env, cpu_info, "cpuInfo"));
}

}  // namespace vlac::napi

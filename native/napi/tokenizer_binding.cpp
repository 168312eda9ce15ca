// vlac.tokenizer: the native InternLM2 tokenizer as a JS object (NativeTokenizer).
// Text crosses as UTF-8 bytes (the TS side encodes with Buffer.from(text, 'utf8'), which turns
// lone surrogates into U+FFFD exactly as TextEncoder does).
#include "napi/tokenizer_binding.h"

#include "napi/bindings.h"
#include "napi/errors.h"

namespace vlac::napi {

namespace {

std::vector<int32_t> arg_ids(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() > i && info[i].IsTypedArray() &&
      info[i].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    Napi::Int32Array a = info[i].As<Napi::Int32Array>();
    return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
  }
  if (info.Length() > i && info[i].IsArray()) {
    Napi::Array a = info[i].As<Napi::Array>();
    std::vector<int32_t> out(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value v = a.Get(k);
      if (!v.IsNumber())
        throw make_error(info.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string(name) + "[" + std::to_string(k) + "] must be a number");
      double d = v.As<Napi::Number>().DoubleValue();
      if (d != static_cast<double>(static_cast<int32_t>(d)))
        throw make_error(info.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string(name) + "[" + std::to_string(k) + "] must be an integer id");
      out[k] = static_cast<int32_t>(d);
    }
    return out;
  }
  throw make_error(info.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string(name) + " must be an Int32Array or an array of ids");
}

}  // namespace

NativeTokenizer::NativeTokenizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTokenizer>(info) {
  // Constructed from JS with a model folder, or from C++ (wrap()) with an existing tokenizer.
  if (info.Length() >= 1 && info[0].IsString()) {
    const std::string dir = info[0].As<Napi::String>().Utf8Value();
    tokenizer_ = guard(info.Env(), [&] { return std::make_shared<Tokenizer>(Tokenizer::load(dir)); });
  }
}

Napi::Object NativeTokenizer::wrap(Napi::Env env, std::shared_ptr<const Tokenizer> tokenizer) {
  Napi::Object obj = addon_data(env).tokenizer.New({});
  NativeTokenizer::Unwrap(obj)->tokenizer_ = std::move(tokenizer);
  return obj;
}

const Tokenizer& NativeTokenizer::get(Napi::Env env) const {
  if (!tokenizer_) throw make_error(env, "ERR_VLAC_INTERNAL", "internal error (please report): tokenizer not set");
  return *tokenizer_;
}

Napi::Value NativeTokenizer::encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array text = arg_bytes(info, 0, "text");
  const bool bos = info.Length() > 1 && info[1].ToBoolean();
  std::vector<int32_t> ids = guard(env, [&] {
    return get(env).encode(std::string_view(reinterpret_cast<const char*>(text.Data()), text.ElementLength()), bos);
  });
  Napi::Int32Array out = Napi::Int32Array::New(env, ids.size());
  std::copy(ids.begin(), ids.end(), out.Data());
  return out;
}

Napi::Value NativeTokenizer::decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int32_t> ids = arg_ids(info, 0, "ids");
  const bool skip = info.Length() > 1 && info[1].ToBoolean();
  return guard(env, [&] { return Napi::String::New(env, get(env).decode(ids.data(), ids.size(), skip)); });
}

Napi::Value NativeTokenizer::id_to_token(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t id = arg_int(info, 0, "id");
  if (id < 0 || id >= get(env).vocab_size())
    throw make_error(env, "ERR_VLAC_BAD_ARGUMENT", "id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                                       std::to_string(get(env).vocab_size()) + ")");
  return guard(env, [&] { return Napi::String::New(env, get(env).id_to_token(static_cast<int32_t>(id))); });
}

Napi::Value NativeTokenizer::token_to_id(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string piece = arg_string(info, 0, "piece");
  auto id = get(env).token_to_id(piece);
  if (!id) return env.Undefined();
  return Napi::Number::New(env, *id);
}

Napi::Value NativeTokenizer::vocab_size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), get(info.Env()).vocab_size());
}

Napi::Value NativeTokenizer::special(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SpecialTokens& s = get(env).special();
  Napi::Object out = Napi::Object::New(env);
  out.Set("unk", s.unk);
  out.Set("bos", s.bos);
  out.Set("eos", s.eos);
  out.Set("imStart", s.im_start);
  out.Set("imEnd", s.im_end);
  out.Set("img", s.img);
  out.Set("imgEnd", s.img_end);
  out.Set("imgContext", s.img_context);
  return out;
}

Napi::Value NativeTokenizer::is_special(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), get(info.Env()).is_special(static_cast<int32_t>(arg_int(info, 0, "id"))));
}

void register_tokenizer_bindings(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = NativeTokenizer::DefineClass(
      env, "NativeTokenizer",
      {
          NativeTokenizer::InstanceMethod("encode", &NativeTokenizer::encode),
          NativeTokenizer::InstanceMethod("decode", &NativeTokenizer::decode),
          NativeTokenizer::InstanceMethod("idToToken", &NativeTokenizer::id_to_token),
          NativeTokenizer::InstanceMethod("tokenToId", &NativeTokenizer::token_to_id),
          NativeTokenizer::InstanceMethod("isSpecial", &NativeTokenizer::is_special),
          NativeTokenizer::InstanceAccessor("vocabSize", &NativeTokenizer::vocab_size, nullptr),
          NativeTokenizer::InstanceAccessor("special", &NativeTokenizer::special, nullptr),
      });
  addon_data(env).tokenizer = Napi::Persistent(ctor);
  exports.Set("NativeTokenizer", ctor);
}

}  // namespace vlac::napi

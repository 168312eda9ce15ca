// Facts about the loaded binary, for vlac.info.
#include "napi/bindings.h"
#include "napi/errors.h"

namespace vlac::napi {

namespace {

Napi::Value native_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
#if defined(__clang__)
  out.Set("compiler", Napi::String::New(env, "clang " __clang_version__));
#elif defined(__GNUC__)
  out.Set("compiler", Napi::String::New(env, "gcc " __VERSION__));
#endif
  return out;
}

}  // namespace

void register_info_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("nativeInfo", Napi::Function::New(env, native_info, "nativeInfo"));
}

}  // namespace vlac::napi

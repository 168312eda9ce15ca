// Converting engine failures into JavaScript errors. Native code never throws across N-API
// unguarded: every binding body runs inside guard(), which turns vlac::Error into a JS Error whose
// `code` is the api.md §7 code (src/errors.ts wraps it into a VlacError), and anything else into
// ERR_VLAC_INTERNAL.
#pragma once

#include <napi.h>

#include <exception>
#include <new>
#include <string>

#include "common/error.h"

namespace vlac::napi {

inline Napi::Error make_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

inline Napi::Error make_error(Napi::Env env, const vlac::Error& e) {
  return make_error(env, error_code_name(e.code()), e.what());
}

// Runs fn and converts engine exceptions into a thrown JS error (with C++ exceptions enabled,
// Napi::Error is itself an exception that N-API turns into a JS throw).
template <typename Fn>
auto guard(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const vlac::Error& e) {
    throw make_error(env, e);
  } catch (const std::bad_alloc&) {
    throw make_error(env, "ERR_VLAC_OUT_OF_MEMORY", "host memory allocation failed");
  } catch (const std::exception& e) {
    throw make_error(env, "ERR_VLAC_INTERNAL", std::string("internal error (please report): ") + e.what());
  }
}

// Argument helpers: a wrong type is ERR_VLAC_BAD_ARGUMENT naming the argument.
inline std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString())
    throw make_error(info.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

inline int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw make_error(info.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)))
    throw make_error(info.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string(name) + " must be an integer");
  return static_cast<int64_t>(d);
}

inline Napi::Uint8Array arg_bytes(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw make_error(info.Env(), "ERR_VLAC_BAD_ARGUMENT", std::string(name) + " must be a Uint8Array");
  return info[i].As<Napi::Uint8Array>();
}

}  // namespace vlac::napi

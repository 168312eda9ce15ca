// One register function per facet of the addon (one file each in native/napi).
#pragma once

#include <napi.h>

namespace vlac::napi {
void register_info_bindings(Napi::Env env, Napi::Object exports);       // info_binding.cpp
void register_image_bindings(Napi::Env env, Napi::Object exports);      // image_binding.cpp
void register_tokenizer_bindings(Napi::Env env, Napi::Object exports);  // tokenizer_binding.cpp
void register_model_bindings(Napi::Env env, Napi::Object exports);      // model_binding.cpp
}  // namespace vlac::napi

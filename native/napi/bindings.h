// One register function per facet of the addon (one file each in native/napi).
#pragma once

#include <napi.h>

namespace vlac::napi {

// The addon's per-environment state. Each Node environment (the main thread and every worker_thread)
// loads the addon into its own env, and a constructor reference is valid only in the env that made
// it, so the classes' constructors live here (env.SetInstanceData, set once in addon init) and never
// in statics.
struct AddonData {
  Napi::FunctionReference cancel_token;  // model_binding.cpp
  Napi::FunctionReference sequence;      // model_binding.cpp
  Napi::FunctionReference native_model;  // model_binding.cpp
  Napi::FunctionReference tokenizer;     // tokenizer_binding.cpp
};

inline AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

void register_info_bindings(Napi::Env env, Napi::Object exports);       // info_binding.cpp
void register_image_bindings(Napi::Env env, Napi::Object exports);      // image_binding.cpp
void register_tokenizer_bindings(Napi::Env env, Napi::Object exports);  // tokenizer_binding.cpp
void register_model_bindings(Napi::Env env, Napi::Object exports);      // model_binding.cpp
void register_generate_bindings(Napi::Env env, Napi::Object exports);   // generate_binding.cpp
}  // namespace vlac::napi

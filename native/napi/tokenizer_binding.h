#pragma once

#include <napi.h>

#include <memory>

#include "tokenizer/tokenizer.h"

namespace vlac::napi {

class NativeTokenizer : public Napi::ObjectWrap<NativeTokenizer> {
 public:
  explicit NativeTokenizer(const Napi::CallbackInfo& info);
  // A JS NativeTokenizer sharing an already loaded tokenizer (the model's).
  static Napi::Object wrap(Napi::Env env, std::shared_ptr<const Tokenizer> tokenizer);

  Napi::Value encode(const Napi::CallbackInfo& info);
  Napi::Value decode(const Napi::CallbackInfo& info);
  Napi::Value id_to_token(const Napi::CallbackInfo& info);
  Napi::Value token_to_id(const Napi::CallbackInfo& info);
  Napi::Value vocab_size(const Napi::CallbackInfo& info);
  Napi::Value special(const Napi::CallbackInfo& info);
  Napi::Value is_special(const Napi::CallbackInfo& info);

 private:
  const Tokenizer& get(Napi::Env env) const;
  std::shared_ptr<const Tokenizer> tokenizer_;
};

}  // namespace vlac::napi

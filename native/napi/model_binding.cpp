#include "napi/bindings.h"

namespace vlac::napi {

void register_model_bindings(Napi::Env env, Napi::Object exports) {}

}  // namespace vlac::napi

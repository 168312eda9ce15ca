// The N-API addon: the only code (with the other files of native/napi) that includes napi.h.
// Each facet registers its functions; the engine itself knows nothing of Node.
#include <napi.h>

#include "napi/bindings.h"

namespace {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new vlac::napi::AddonData());  // deleted by N-API when the env is torn down
  vlac::napi::register_info_bindings(env, exports);
  vlac::napi::register_image_bindings(env, exports);
  vlac::napi::register_tokenizer_bindings(env, exports);
  vlac::napi::register_model_bindings(env, exports);
  vlac::napi::register_generate_bindings(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vlac, init)

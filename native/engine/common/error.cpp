#include "common/error.h"

namespace vlac {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::BadArgument: return "ERR_VLAC_BAD_ARGUMENT";
    case ErrorCode::NotFound: return "ERR_VLAC_NOT_FOUND";
    case ErrorCode::BadConfig: return "ERR_VLAC_BAD_CONFIG";
    case ErrorCode::BadWeights: return "ERR_VLAC_BAD_WEIGHTS";
    case ErrorCode::MissingTensor: return "ERR_VLAC_MISSING_TENSOR";
    case ErrorCode::TensorShape: return "ERR_VLAC_TENSOR_SHAPE";
    case ErrorCode::BadTokenizer: return "ERR_VLAC_BAD_TOKENIZER";
    case ErrorCode::BadImage: return "ERR_VLAC_BAD_IMAGE";
    case ErrorCode::ContextFull: return "ERR_VLAC_CONTEXT_FULL";
    case ErrorCode::CudaUnavailable: return "ERR_VLAC_CUDA_UNAVAILABLE";
    case ErrorCode::OutOfMemory: return "ERR_VLAC_OUT_OF_MEMORY";
    case ErrorCode::Busy: return "ERR_VLAC_BUSY";
    case ErrorCode::Aborted: return "ERR_VLAC_ABORTED";
    case ErrorCode::Timeout: return "ERR_VLAC_TIMEOUT";
    case ErrorCode::Disposed: return "ERR_VLAC_DISPOSED";
    case ErrorCode::NativeLoad: return "ERR_VLAC_NATIVE_LOAD";
    case ErrorCode::Internal: return "ERR_VLAC_INTERNAL";
  }
  return "ERR_VLAC_INTERNAL";
}

void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

}  // namespace vlac

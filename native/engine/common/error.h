// The engine's one error type. Every failure the engine detects is a vlac::Error carrying one of
// the stable codes of the public API (../shared/docs/api.md §7) and a message that names the file,
// tensor, argument or input at fault. The N-API layer maps it 1:1 onto the TypeScript VlacError.
#pragma once

#include <stdexcept>
#include <string>

namespace vlac {

enum class ErrorCode {
  BadArgument,
  NotFound,
  BadConfig,
  BadWeights,
  MissingTensor,
  TensorShape,
  BadTokenizer,
  BadImage,
  ContextFull,
  CudaUnavailable,
  OutOfMemory,
  Busy,
  Aborted,
  Timeout,
  Disposed,
  NativeLoad,
  Internal,
};

// "ERR_VLAC_BAD_ARGUMENT", ... exactly as api.md §7 spells them.
const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] void fail(ErrorCode code, const std::string& message);

// Checks an invariant of the engine itself (not of user input): a failure is a bug.
#define VLAC_CHECK(cond, msg)                                                                 \
  do {                                                                                        \
    if (!(cond))                                                                              \
      ::vlac::fail(::vlac::ErrorCode::Internal, std::string("internal error (please report): ") + \
                                                    (msg) + " [" __FILE__ "]");               \
  } while (0)

}  // namespace vlac

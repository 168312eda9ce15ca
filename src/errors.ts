// The one error type of the public API (api.md §7). Every failure, native or TypeScript, reaches
// the user as a VlacError with a stable code and a message naming what is at fault.

export type VlacErrorCode =
  | 'ERR_VLAC_BAD_ARGUMENT'
  | 'ERR_VLAC_NOT_FOUND'
  | 'ERR_VLAC_BAD_CONFIG'
  | 'ERR_VLAC_BAD_WEIGHTS'
  | 'ERR_VLAC_MISSING_TENSOR'
  | 'ERR_VLAC_TENSOR_SHAPE'
  | 'ERR_VLAC_BAD_TOKENIZER'
  | 'ERR_VLAC_BAD_IMAGE'
  | 'ERR_VLAC_CONTEXT_FULL'
  | 'ERR_VLAC_CUDA_UNAVAILABLE'
  | 'ERR_VLAC_OUT_OF_MEMORY'
  | 'ERR_VLAC_BUSY'
  | 'ERR_VLAC_ABORTED'
  | 'ERR_VLAC_TIMEOUT'
  | 'ERR_VLAC_DISPOSED'
  | 'ERR_VLAC_NATIVE_LOAD'
  | 'ERR_VLAC_INTERNAL';

const CODES = new Set<string>([
  'ERR_VLAC_BAD_ARGUMENT', 'ERR_VLAC_NOT_FOUND', 'ERR_VLAC_BAD_CONFIG', 'ERR_VLAC_BAD_WEIGHTS',
  'ERR_VLAC_MISSING_TENSOR', 'ERR_VLAC_TENSOR_SHAPE', 'ERR_VLAC_BAD_TOKENIZER', 'ERR_VLAC_BAD_IMAGE',
  'ERR_VLAC_CONTEXT_FULL', 'ERR_VLAC_CUDA_UNAVAILABLE', 'ERR_VLAC_OUT_OF_MEMORY', 'ERR_VLAC_BUSY',
  'ERR_VLAC_ABORTED', 'ERR_VLAC_TIMEOUT', 'ERR_VLAC_DISPOSED', 'ERR_VLAC_NATIVE_LOAD', 'ERR_VLAC_INTERNAL',
]);

export class VlacError extends Error {
  readonly code: VlacErrorCode;

  constructor(code: VlacErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VlacError';
    this.code = code;
  }

  /** Wraps anything thrown by the native addon (an Error with a `code`) into a VlacError. */
  static from(err: unknown): VlacError {
    if (err instanceof VlacError) return err;
    if (err instanceof Error) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && CODES.has(code)) return new VlacError(code as VlacErrorCode, err.message);
      return new VlacError('ERR_VLAC_INTERNAL', `internal error (please report): ${err.message}`, { cause: err });
    }
    return new VlacError('ERR_VLAC_INTERNAL', `internal error (please report): ${String(err)}`);
  }
}

/** Calls a native function and rethrows its failure as a VlacError. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw VlacError.from(err);
  }
}

export function badArgument(message: string): VlacError {
  return new VlacError('ERR_VLAC_BAD_ARGUMENT', message);
}

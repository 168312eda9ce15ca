export { Vlac } from './vlac.js';
export type { LoadOptions, VlacInfo, Device } from './vlac.js';
export { VlacError } from './errors.js';
export type { VlacErrorCode } from './errors.js';
export { Tokenizer } from './tokenizer.js';
export type { SpecialTokenIds } from './tokenizer.js';
export { Sequence } from './sequence.js';
export type { GenerateOptions, GenerateResult, Step, StepTop, FinishReason, Embeddings } from './sequence.js';
export type { ImageInput, PreprocessOptions, PreprocessedImage, RawImage } from './images.js';

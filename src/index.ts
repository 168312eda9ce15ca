export { Vlac } from './vlac.js';
export type { LoadOptions, VlacInfo, Device } from './vlac.js';
export { VlacError } from './errors.js';
export type { VlacErrorCode } from './errors.js';
export { Tokenizer } from './tokenizer.js';
export type { SpecialTokenIds } from './tokenizer.js';
export { Sequence } from './sequence.js';
export type { GenerateOptions, GenerateResult, Step, StepTop, FinishReason, Embeddings } from './sequence.js';
export type { ImageInput, PreprocessOptions, PreprocessedImage, RawImage } from './images.js';
export { VlacTasks } from './tasks/vlac-tasks.js';
export type {
  PairCriticOptions, PairCriticResult, DoneOptions, DoneResult, TrajectoryCriticOptions, TrajectoryCriticResult,
  TrajectoryDoneOptions, TrajectoryDoneResult, ActionOptions, ActionResult, ActionScoreOptions, ActionScoreResult,
  DescribeOptions, DescribeResult, ChatOptions, ChatResult, DataQualityResult, PromptKind, RenderedPrompt,
  CriticStreamOptions, CriticStreamHandle, Timing, ReplyFields,
} from './tasks/types.js';

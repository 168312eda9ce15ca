// The contract between the task layer (prompts, batching, parsing, values: everything the official
// VLAC package does around the model) and whoever answers the model calls: the native engine in
// production, a scripted function in `vlac-engine/testing`. The two paths differ only there.

/** An image as the caller gives it (api.md §2); the task layer passes these objects through unread. */
export type ImageInput =
  | string
  | Uint8Array
  | { data: Uint8Array; width: number; height: number; channels: 1 | 3 | 4 }
  | object /* a sharp instance */;

export interface TokenizerLike {
  /** Added/special tokens written in the text are recognized (HF added-token split). */
  encode(text: string, opts?: { bos?: boolean }): Int32Array;
  decode(ids: ArrayLike<number>, opts?: { skipSpecial?: boolean }): string;
  idToToken(id: number): string;
  tokenToId(piece: string): number | undefined;
  readonly special: {
    bos: number; eos: number; imStart: number; imEnd: number; img: number; imgEnd: number; imgContext: number;
  };
}

/** One prompt for the model: the rendered ids and the images for its `<IMG_CONTEXT>` runs. */
export interface ModelRequest {
  ids: Int32Array;
  /** In prompt order: the caller's own objects. */
  images: ImageInput[];
  /** The user text before rendering (with its `<image>` tags). */
  query: string;
}

export interface StepTop { id: number; token: string; logprob: number }
/** One generated token: its log-probability and the top entries (best first, the chosen one included). */
export interface Step { id: number; logprob: number; top: StepTop[] }
export type FinishReason = 'stop' | 'length' | 'aborted';

/** Stage times of the batched call a reply came from, where the backend measures them. */
export interface StageTiming { decodeImagesMs?: number; encodeMs?: number; prefillMs?: number; decodeMs?: number }

export interface Reply {
  text: string;
  /** Generated ids; a stop token that ended the reply is the last one (as the official logprob list). */
  ids: Int32Array;
  steps: Step[];
  finishReason: FinishReason;
  timing?: StageTiming;
}

/** Sampling knobs for free chat only; the VLAC task methods are always greedy. */
export interface SamplingOptions { temperature?: number; topK?: number; topP?: number; seed?: number }

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Top logprobs per step (10 for the task methods, as the official requests ask). */
  logprobs?: number;
  stop?: string[];
}

export interface TaskBackend {
  readonly tokenizer: TokenizerLike;
  /** `<IMG_CONTEXT>` tokens per image (256 for VLAC: config image_tokens). */
  readonly imageTokens: number;
  /**
   * ONE batched model call: every request goes into one batched forward, as the official
   * `PtEngine.infer`. Greedy unless sampling options say otherwise. Resolves one reply per request,
   * in order.
   */
  generate(requests: ModelRequest[], opts: GenerateOptions): Promise<Reply[]>;
  /**
   * Optional: prefills in the background what a later request will start with (criticStream's next
   * pair, native/engine/runtime/prefetch.h). `request.ids` is that request's whole prompt and
   * `request.images` its images but the last. Resolves once the work is queued ahead of any later
   * `generate`, which then waits for it and finds its result; the work itself is never awaited, its
   * failures are the backend's to swallow (the later request just does the work), and `signal`
   * cancels it.
   */
  prefetch?(request: ModelRequest, signal: AbortSignal): Promise<void>;
}

/** What every model reply in a result carries (api.md §5). */
export interface ReplyFields {
  text: string;
  ids: Int32Array;
  steps: Step[];
  finishReason: FinishReason;
}

export interface Timing {
  decodeImagesMs: number;
  encodeMs: number;
  prefillMs: number;
  decodeMs: number;
  totalMs: number;
}

export interface CallOptions {
  maxTokens?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export type FrameSource = ImageInput[] | { video: string; fps?: number };

export type ValueMode = 'simple' | 'ratio' | 'mix_f';

export interface PairCriticOptions extends CallOptions {
  task: string;
  first: ImageInput;
  second: ImageInput;
  reference?: ImageInput[];
  /** The trajectory's first frame F[0] shown after the reference; defaults to `first`. */
  start?: ImageInput;
  refNum?: number;
  think?: boolean;
  rich?: boolean;
}

/** Think replies carry both images' progress percentages (A, B of vlac-behavior.md §4). */
export interface Progress { first: number | null; second: number | null }

export interface PairCriticResult extends ReplyFields {
  critic: number | null;
  progress?: Progress;
  timing: Timing;
}

export interface DoneOptions extends CallOptions {
  task: string | null;
  image: ImageInput;
  threshold?: number;
  rich?: boolean;
  goal?: ImageInput;
  reference?: ImageInput[];
  first?: ImageInput;
  previous?: ImageInput;
  refNum?: number;
}

export interface DoneResult extends ReplyFields {
  done: boolean;
  value: number | null;
  timing: Timing;
}

export interface TrajectoryDoneSpec { threshold?: number; inContext?: boolean }

export interface TrajectoryCriticOptions extends CallOptions {
  task: string;
  frames: FrameSource;
  reference?: FrameSource;
  refNum?: number;
  skip?: number;
  batchSize?: number;
  think?: boolean;
  rich?: boolean;
  reverse?: boolean;
  done?: false | TrajectoryDoneSpec;
  onProgress?: (done: number, total: number) => void;
  frameSkip?: boolean;
  valueMode?: ValueMode;
  additionScale?: number;
  bias?: number;
  relatedCritic?: boolean;
  positiveClip?: number;
  negativeClip?: number;
}

export interface TrajectoryCriticResult {
  /** Frame indices (earlier, later) of each scored pair. */
  pairs: [number, number][];
  critic: (number | null)[];
  value: number[];
  /** One per value entry's frame when `done` was asked (frames 0, s, 2s, ... under frameSkip). */
  done?: boolean[];
  /** The official done numbers behind `done`: v if v > threshold else 0 (an unparsable reply is 0). */
  doneValues?: number[];
  /** The done model replies, in request order. */
  doneReplies?: ReplyFields[];
  /** Think mode: the progress percentages of each pair. */
  progress?: Progress[];
  /** How many replies could not be parsed (their critic is null and counts as 0 in the values). */
  unparsed: number;
  texts: string[];
  replies: ReplyFields[];
  timing: Timing;
}

export interface TrajectoryDoneOptions extends CallOptions {
  task: string | null;
  frames: FrameSource;
  reference?: FrameSource;
  goal?: ImageInput;
  refNum?: number;
  batchSize?: number;
  rich?: boolean;
  threshold?: number;
  skip?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface TrajectoryDoneResult {
  /** The official values: v if v > threshold else 0 (an unparsable reply counts as 0). */
  done: number[];
  /** The parsed done number of each frame before thresholding (null: unparsable). */
  values: (number | null)[];
  texts: string[];
  replies: ReplyFields[];
  timing: Timing;
}

export interface DataQualityResult {
  voc: number;
  negativeRate: number;
  negativeSteps: [number, number][];
}

export interface ActionOptions extends CallOptions {
  task: string;
  images: ImageInput[];
  state?: number[];
  position?: boolean;
  simple?: boolean;
  think?: boolean;
  outputNum?: number;
  gripperFormat?: boolean;
  rich?: boolean;
}

export interface ActionResult extends ReplyFields { action: number[] | null; timing: Timing }

export interface ActionScoreOptions extends CallOptions {
  task: string;
  image: ImageInput;
  state: number[];
  action: number[];
  rich?: boolean;
}

export interface ActionScoreResult extends ReplyFields { score: number | null; timing: Timing }

export interface ActionInverseOptions extends CallOptions { first: ImageInput; second: ImageInput; rich?: boolean }

export interface DescribeOptions extends CallOptions { first: ImageInput; last: ImageInput }

export interface DescribeResult extends ReplyFields { timing: Timing }

export interface ChatOptions extends CallOptions, SamplingOptions {
  prompt: string;
  images?: ImageInput[];
  /** System prompt; default the VLAC one. */
  system?: string;
  /** Top logprobs per step (default 10, up to 20). */
  logprobs?: number;
  stop?: string[];
}

export interface ChatResult extends ReplyFields { timing: Timing }

export type PromptKind =
  | 'pair' | 'done' | 'done-goal' | 'done-in-context' | 'describe' | 'action' | 'action-score'
  | 'action-inverse' | 'chat';

export interface RenderedPrompt {
  ids: Int32Array;
  /** BOS not shown; each image body shown as `{N x <IMG_CONTEXT>}`. */
  text: string;
  /** How many images the prompt takes. */
  imageSlots: number;
  /** The user text before rendering. */
  query: string;
}

export interface CriticStreamOptions {
  task: string;
  reference?: ImageInput[];
  refNum?: number;
  rich?: boolean;
  think?: boolean;
  maxTokens?: number;
  /** Plain done on every pushed frame (rich, as in trajectoryCritic). */
  done?: false | { threshold?: number };
}

export interface PushOptions { signal?: AbortSignal; timeoutMs?: number }

export interface PushResult extends ReplyFields {
  /** 0 for the first frame, then one per push. */
  index: number;
  /** The critic of this frame against the previous one (null for the first frame or an unparsable reply). */
  critic: number | null;
  progress?: Progress;
  /** The running value, as trajectoryCritic's value[index] with skip 1. */
  value: number;
  done?: boolean;
  doneValue?: number;
  timing: Timing;
}

export interface CriticStreamHandle {
  push(frame: ImageInput, options?: PushOptions): Promise<PushResult>;
  reset(): void;
  close(): void;
}

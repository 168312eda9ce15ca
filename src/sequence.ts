// Sequences (api.md §4): one conversation's tokens and KV cache on the native engine.
import { VlacError, badArgument, callNative } from './errors.js';
import type { Tokenizer } from './tokenizer.js';
import { integerIn, numberIn, optionsObject, signalOf } from './validate.js';

export interface StepTop { id: number; token: string; logprob: number }
export interface Step { id: number; logprob: number; top: StepTop[] }
export type FinishReason = 'stop' | 'length' | 'aborted';

export interface GenerateOptions {
  maxTokens?: number;
  /** 0 = greedy */
  temperature?: number;
  /** 0 = off */
  topK?: number;
  /** 1 = off */
  topP?: number;
  seed?: number;
  /** Stop tokens (ids, or token strings such as '<|im_end|>'); default: generation_config eos + <|im_end|> + </s>. */
  stop?: (number | string)[];
  /** Top-k logprobs per step, 0..20. */
  logprobs?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface GenerateResult {
  ids: Int32Array;
  text: string;
  finishReason: FinishReason;
  steps: Step[];
}

/** Image rows already encoded by vlac.encodeImages. */
export interface Embeddings {
  tokens: number;
  hidden: number;
  data: Float32Array;
}

/** @internal the native calls a Sequence makes. */
export interface NativeSequenceHandle {
  prefill(ids: Int32Array, rows?: Float32Array): Promise<number>;
  generate(options: object, token?: object): Promise<GenerateResult & { timedOut: boolean; length: number }>;
  fork(): NativeSequenceHandle;
  dispose(): Promise<void>;
}

/** @internal what a Sequence needs from its Vlac. */
export interface SequenceHost {
  readonly tokenizer: Tokenizer;
  checkAlive(): void;
  encodeForPrefill(images: unknown): Promise<Float32Array | undefined>;
  newCancelToken(): { cancel(): void };
  maxContext: number;
}

export const MAX_LOGPROBS = 20;

export class Sequence {
  #native: NativeSequenceHandle;
  #host: SequenceHost;
  #length: number;
  #disposed = false;

  /** @internal */
  constructor(host: SequenceHost, native: NativeSequenceHandle, length = 0) {
    this.#host = host;
    this.#native = native;
    this.#length = length;
  }

  /** Tokens in the sequence: prompt and generated. */
  get length(): number {
    return this.#length;
  }

  #check(): void {
    this.#host.checkAlive();
    if (this.#disposed) throw new VlacError('ERR_VLAC_DISPOSED', 'the sequence was disposed');
  }

  /** Appends prompt ids; `<IMG_CONTEXT>` ids are filled with the images' rows in order. */
  async prefill(input: { ids: Int32Array | number[]; images?: Embeddings | unknown[] }): Promise<void> {
    this.#check();
    const o = optionsObject<{ ids: Int32Array | number[]; images?: unknown }>(input, 'prefill input');
    const ids = toIds(o.ids, 'ids');
    if (this.#length + ids.length > this.#host.maxContext)
      throw new VlacError('ERR_VLAC_CONTEXT_FULL',
        `the prompt would make the sequence ${this.#length + ids.length} tokens long, over maxContext ${this.#host.maxContext}`);
    const rows = await this.#host.encodeForPrefill(o.images);
    try {
      this.#length = await this.#native.prefill(ids, rows);
    } catch (err) {
      throw VlacError.from(err);
    }
  }

  /** Decodes from where the sequence stands (api.md §4). */
  async generate(options: GenerateOptions = {}): Promise<GenerateResult> {
    this.#check();
    const o = optionsObject<GenerateOptions>(options, 'generate options');
    const native = nativeGenerateOptions(o, this.#host.tokenizer);
    if (this.#length + native.maxTokens > this.#host.maxContext)
      throw new VlacError('ERR_VLAC_CONTEXT_FULL',
        `${this.#length} tokens + maxTokens ${native.maxTokens} exceed maxContext ${this.#host.maxContext}`);
    const signal = signalOf(o.signal, 'signal');
    const r = await runCancellable(this.#host, signal, (token) => this.#native.generate(native, token));
    this.#length = r.length;
    if (r.timedOut) throw new VlacError('ERR_VLAC_TIMEOUT', `generate passed timeoutMs ${o.timeoutMs}`);
    return { ids: r.ids, text: r.text, finishReason: r.finishReason, steps: r.steps };
  }

  /** A copy that shares this sequence's prefix and diverges after it. */
  fork(): Sequence {
    this.#check();
    return new Sequence(this.#host, callNative(() => this.#native.fork()), this.#length);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#native.dispose().catch(() => undefined);
  }
}

export function toIds(value: unknown, name: string): Int32Array {
  if (value instanceof Int32Array) return value;
  if (Array.isArray(value)) {
    const out = new Int32Array(value.length);
    value.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff)
        throw badArgument(`${name}[${i}] must be a non-negative integer id, got ${String(v)}`);
      out[i] = v;
    });
    return out;
  }
  throw badArgument(`${name} must be an Int32Array or an array of token ids`);
}

export interface NativeGenerateOptions {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed?: number;
  stop?: Int32Array;
  logprobs: number;
  timeoutMs?: number;
}

export function nativeGenerateOptions(o: Partial<GenerateOptions>, tokenizer: Tokenizer): NativeGenerateOptions {
  const out: NativeGenerateOptions = {
    maxTokens: integerIn(o.maxTokens, 'maxTokens', 1, 1 << 20, 32),
    temperature: numberIn(o.temperature, 'temperature', 0, 100, 0),
    topK: integerIn(o.topK, 'topK', 0, 1 << 20, 0),
    topP: numberIn(o.topP, 'topP', Number.MIN_VALUE, 1, 1),
    logprobs: integerIn(o.logprobs, 'logprobs', 0, MAX_LOGPROBS, 0),
  };
  if (o.seed !== undefined) out.seed = integerIn(o.seed, 'seed', 0, Number.MAX_SAFE_INTEGER);
  if (o.timeoutMs !== undefined) out.timeoutMs = numberIn(o.timeoutMs, 'timeoutMs', 1, 2 ** 31);
  if (o.stop !== undefined) {
    if (!Array.isArray(o.stop)) throw badArgument('stop must be an array of token ids or token strings');
    out.stop = Int32Array.from(o.stop.map((s, i) => {
      if (typeof s === 'number') return integerIn(s, `stop[${i}]`, 0, tokenizer.vocabSize - 1);
      if (typeof s !== 'string') throw badArgument(`stop[${i}] must be a token id or a token string`);
      const id = tokenizer.tokenToId(s);
      if (id !== undefined) return id;
      const ids = tokenizer.encode(s);
      if (ids.length !== 1) throw badArgument(`stop[${i}] ${JSON.stringify(s)} is not a single token`);
      return ids[0];
    }));
  }
  return out;
}

/** Runs a native call that observes a cancel token; an AbortSignal aborts it (ERR_VLAC_ABORTED when aborted before it starts). */
export async function runCancellable<T>(host: SequenceHost, signal: AbortSignal | undefined,
  call: (token: object) => Promise<T>): Promise<T> {
  if (signal?.aborted) throw new VlacError('ERR_VLAC_ABORTED', 'the call was aborted before it started');
  const token = host.newCancelToken();
  const onAbort = () => token.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await call(token);
  } catch (err) {
    throw VlacError.from(err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

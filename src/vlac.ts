// The Vlac class (api.md §1-§5): loads a checkpoint folder onto a native backend and exposes the
// low-level calls (preprocess, encodeImages, sequences) and the VLAC task methods.
import { statSync } from 'node:fs';
import { VlacError, badArgument, callNative } from './errors.js';
import { preprocessImage, preprocessTiles, type ImageInput, type PreprocessOptions, type PreprocessedImage } from './images.js';
import { loadNative, nativeBinaryPath } from './native.js';
import {
  Sequence, nativeGenerateOptions, runCancellable, type Embeddings, type NativeSequenceHandle, type SequenceHost,
} from './sequence.js';
import { Tokenizer } from './tokenizer.js';
import { integerIn, oneOf, optionsObject } from './validate.js';
import { VERSION } from './version.js';
import { VlacTasks } from './tasks/vlac-tasks.js';
import type {
  CriticStreamHandle, CriticStreamOptions, GenerateOptions as TaskGenerateOptions, ModelRequest, Reply, TaskBackend,
} from './tasks/types.js';

export type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

export interface LoadOptions {
  device?: Device;
  weights?: 'auto' | 'bf16' | 'int8';
  /** With weights 'int8': also quantize the LM head (default true; false keeps it bf16). */
  quantizeLmHead?: boolean;
  /** The activations the ViT, projector and prefill matrix products read: 'fp32' (default; the
   *  official goldens' numerics) or 'bf16' (rounded to bf16 first, as PyTorch's bf16 path does; about
   *  twice as fast on CPUs with AVX-512 BF16). Decode steps read fp32 either way. docs/TOLERANCES.md. */
  precision?: 'fp32' | 'bf16';
  threads?: number;
  maxContext?: number;
  maxBatch?: number;
  maxQueue?: number;
  cache?: { frameBytes?: number; prefixBytes?: number };
}

export interface VlacInfo {
  version: string;
  binary: string;
  backend: 'cpu' | 'cuda';
  device: string;
  cpuFeatures: string[];
  threads: number;
  cuda: { available: true; driver: string; runtime: string; name: string; computeCapability: string; memoryBytes: number }
    | { available: false; reason: string };
  weights: 'bf16' | 'int8';
  precision: 'fp32' | 'bf16';
  model: {
    visionLayers: number; visionHidden: number; llmLayers: number; hidden: number; heads: number; kvHeads: number;
    vocab: number; imageSize: number; imageTokens: number; maxPositionEmbeddings: number; storedDtype: string;
  };
  unusedTensors: string[];
  /** cacheBytes: what the frame-embedding and prefix KV caches hold now. */
  memory: { weightsBytes: number; kvCacheBytes: number; cacheBytes: number };
  /** What the caches did since load (native/engine/runtime/cached_batch.h): tiles found in the frame
   *  cache vs encoded by the ViT, requests that started from a stored prefix, prompt positions copied
   *  from a prefix instead of computed, and prompt tokens that went through the LLM. */
  cache: CacheCounters;
}

export interface CacheCounters {
  frameHits: number; frameMisses: number; prefixHits: number; prefixTokensReused: number; prefilledTokens: number;
}

interface NativeModelHandle {
  load(dir: string, options: { maxContext: number; threads?: number; weights: 'bf16' | 'int8'; quantizeLmHead?: boolean;
    precision?: 'fp32' | 'bf16'; frameCacheBytes: number; prefixCacheBytes: number }): Promise<void>;
  info(): {
    model: VlacInfo['model']; unusedTensors: string[]; weightsBytes: number; kvCacheBytesPerSequence: number;
    weights: 'bf16' | 'int8'; lmHeadInt8: boolean; precision: 'fp32' | 'bf16'; buildMs: number;
    maxContext: number; threads: number; stopIds: Int32Array; cacheBytes: number; cache: CacheCounters;
  };
  tokenizer(): ConstructorParameters<typeof Tokenizer>[0];
  encodeTiles(tiles: Uint8Array | Float32Array, n: number): Promise<Float32Array>;
  createSequence(): NativeSequenceHandle;
  generateBatch(requests: { ids: Int32Array; tiles?: Uint8Array | Uint8Array[] }[], options: object, token?: object): Promise<{
    replies: { ids: Int32Array; text: string; finishReason: 'stop' | 'length' | 'aborted'; steps: never[]; timedOut: boolean }[];
    timing: { encodeMs: number; prefillMs: number; decodeMs: number };
    cache: CacheCounters;
    timedOut: boolean;
    /** The scheduler's batching of this call: calls prepared in one batch, most replies in one decode step. */
    batch: { preparedWith: number; peakDecoding: number };
  }>;
  prefetchPrefix(request: { ids: Int32Array; tiles?: Uint8Array }, token?: object): Promise<{
    stored: boolean; cancelled: boolean; prefilledTokens: number;
  }>;
  benchmark(options: object): Promise<string>;
  dispose(): Promise<void>;
}

/** Options of the engine's benchmark (native/engine/bench/benchmark.h). */
export interface BenchmarkOptions {
  scenarios: string[];
  warmup?: number;
  iterations?: number;
  seconds?: number;
  replyTokens?: number;
  decodeContext?: number;
  decodeTokens?: number;
  logitsDir?: string;
  /** Run the scenarios that use the caches (stream-ref:N) without them: the uncached baseline. */
  noCache?: boolean;
  /** stream, stream-ref:N: pushes paced this many ms apart (a control loop's tick). */
  tickMs?: number;
  /** Also measure torch's peaks in a python subprocess and grade against the higher (default true). */
  torchPeak?: boolean;
  /** Interpreters tried in order for the torch peaks (default python3, then /usr/bin/python3). */
  pythons?: string[];
}

/** One configuration of a compared benchmark run: a loaded model and the op threads its calls use. */
export interface BenchmarkConfiguration {
  label: string;
  vlac: Vlac;
  /** 0 or absent: the thread count when the run starts. */
  threads?: number;
}

interface NativeModule {
  NativeModel: new (maxQueue: number) => NativeModelHandle;
  CancelToken: new () => { cancel(): void };
  cpuInfo(): { features: string[]; threads: number };
}

let warnedUnused = false;

// The task layer's model calls, answered by the native engine: one batched call per request list.
class NativeBackend implements TaskBackend {
  vlac: Vlac | undefined;
  constructor(readonly tokenizer: Tokenizer, readonly imageTokens: number) {}

  async generate(requests: ModelRequest[], opts: TaskGenerateOptions): Promise<Reply[]> {
    const vlac = this.vlac!;
    const out = await vlac.nativeGenerateBatch(requests as { ids: Int32Array; images: ImageInput[] }[], opts);
    return out.replies.map((r) => ({
      text: r.text, ids: r.ids, steps: r.steps, finishReason: r.finishReason,
      timing: { ...out.timing, decodeImagesMs: out.timing.decodeImagesMs },
    }));
  }

  async prefetch(request: ModelRequest, signal: AbortSignal): Promise<void> {
    await this.vlac!.nativePrefetch(request as { ids: Int32Array; images: ImageInput[] }, signal);
  }
}

export class Vlac extends VlacTasks implements SequenceHost {
  readonly tokenizer: Tokenizer;
  readonly maxContext: number;
  #native: NativeModelHandle;
  #module: NativeModule;
  #info: VlacInfo;
  #disposed = false;
  #disposing: Promise<void> | undefined;

  private constructor(module: NativeModule, native: NativeModelHandle, info: VlacInfo, tokenizer: Tokenizer) {
    const backend = new NativeBackend(tokenizer, info.model.imageTokens);
    super(backend);
    backend.vlac = this;
    this.#module = module;
    this.#native = native;
    this.#info = info;
    this.maxContext = native.info().maxContext;
    this.tokenizer = tokenizer;
  }

  /** Loads and validates a VLAC / InternVL2 checkpoint folder (api.md §1). */
  static async load(modelDir: string, options: LoadOptions = {}): Promise<Vlac> {
    if (typeof modelDir !== 'string' || modelDir.length === 0) throw badArgument('modelDir must be a non-empty string');
    const o = optionsObject<LoadOptions>(options, 'options');
    const device = o.device ?? 'auto';
    if (typeof device !== 'string' || !/^(auto|cpu|cuda|cuda:\d+)$/.test(device))
      throw badArgument(`device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(device)}`);
    const weights = oneOf(o.weights, 'weights', ['auto', 'bf16', 'int8'] as const, 'auto');
    const precision = oneOf(o.precision, 'precision', ['fp32', 'bf16'] as const, 'fp32');
    const threads = o.threads === undefined ? undefined : integerIn(o.threads, 'threads', 1, 1024);
    const maxContext = integerIn(o.maxContext, 'maxContext', 16, 1 << 20, 4096);
    integerIn(o.maxBatch, 'maxBatch', 1, 4096, 16);
    const maxQueue = integerIn(o.maxQueue, 'maxQueue', 1, 1 << 20, 256);
    const cache = o.cache === undefined ? {} : optionsObject<NonNullable<LoadOptions['cache']>>(o.cache, 'cache');
    const frameCacheBytes = integerIn(cache.frameBytes, 'cache.frameBytes', 0, Number.MAX_SAFE_INTEGER, 256 * 2 ** 20);
    const prefixCacheBytes = integerIn(cache.prefixBytes, 'cache.prefixBytes', 0, Number.MAX_SAFE_INTEGER, 512 * 2 ** 20);
    if (device.startsWith('cuda'))
      throw new VlacError('ERR_VLAC_CUDA_UNAVAILABLE',
        `device '${device}' was asked for, but this build of vlac-engine has no CUDA backend; use device 'cpu' or 'auto'`);
    if (o.quantizeLmHead !== undefined && typeof o.quantizeLmHead !== 'boolean')
      throw badArgument(`quantizeLmHead must be a boolean, got ${JSON.stringify(o.quantizeLmHead)}`);
    let st;
    try {
      st = statSync(modelDir);
    } catch {
      throw new VlacError('ERR_VLAC_NOT_FOUND', `model folder ${modelDir} does not exist`);
    }
    if (!st.isDirectory()) throw new VlacError('ERR_VLAC_NOT_FOUND', `${modelDir} is not a folder`);

    const module = loadNative() as unknown as NativeModule;
    const native = callNative(() => new module.NativeModel(maxQueue));
    try {
      // 'auto' is bf16 on the CPU: int8 trades accuracy (docs/TOLERANCES.md, int8) for speed and memory.
      await native.load(modelDir, {
        maxContext, weights: weights === 'int8' ? 'int8' : 'bf16', precision, frameCacheBytes, prefixCacheBytes,
        ...(o.quantizeLmHead !== undefined ? { quantizeLmHead: o.quantizeLmHead } : {}),
        ...(threads ? { threads } : {}),
      });
    } catch (err) {
      await native.dispose().catch(() => undefined);
      throw VlacError.from(err);
    }
    const n = native.info();
    const cpu = module.cpuInfo();
    const info: VlacInfo = {
      version: VERSION,
      binary: nativeBinaryPath() ?? '',
      backend: 'cpu',
      device: 'cpu',
      cpuFeatures: cpu.features,
      threads: n.threads,
      cuda: { available: false, reason: 'this build of vlac-engine has no CUDA backend' },
      weights: n.weights,
      precision: n.precision,
      model: n.model,
      unusedTensors: n.unusedTensors,
      memory: { weightsBytes: n.weightsBytes, kvCacheBytes: 0, cacheBytes: n.cacheBytes },
      cache: n.cache,
    };
    if (info.unusedTensors.length > 0 && !warnedUnused) {
      warnedUnused = true;
      process.emitWarning(
        `${modelDir}: ${info.unusedTensors.length} tensor(s) in the checkpoint are not used by the architecture ` +
          `(${info.unusedTensors.slice(0, 3).join(', ')}${info.unusedTensors.length > 3 ? ', ...' : ''}); see vlac.info.unusedTensors`,
        { code: 'VLAC_UNUSED_TENSORS' },
      );
    }
    return new Vlac(module, native, info, new Tokenizer(native.tokenizer()));
  }

  get info(): VlacInfo {
    // The cache figures are read live; after dispose, the last ones read.
    if (!this.#disposed) {
      const n = this.#native.info();
      this.#info.memory.cacheBytes = n.cacheBytes;
      this.#info.cache = n.cache;
    }
    return { ...this.#info, memory: { ...this.#info.memory }, cache: { ...this.#info.cache } };
  }

  /** @internal */
  checkAlive(): void {
    if (this.#disposed) throw new VlacError('ERR_VLAC_DISPOSED', 'the model was disposed');
  }

  /** @internal */
  newCancelToken(): { cancel(): void } {
    return new this.#module.CancelToken();
  }

  /** Decodes and preprocesses one image into model tiles (api.md §2). */
  async preprocess(image: ImageInput, options: PreprocessOptions = {}): Promise<PreprocessedImage> {
    this.checkAlive();
    return preprocessImage(image, options, 0);
  }

  /** Image rows for the LLM: 256 per tile (api.md §2). Inputs may be preprocessed results or ImageInputs. */
  async encodeImages(images: (PreprocessedImage | ImageInput)[]): Promise<Embeddings> {
    this.checkAlive();
    if (!Array.isArray(images) || images.length === 0) throw badArgument('images must be a non-empty array');
    const tiles = await tilesOf(images);
    const data = await this.#call(() => this.#native.encodeTiles(tiles.uint8, tiles.count));
    const hidden = this.#info.model.hidden;
    return { tokens: data.length / hidden, hidden, data };
  }

  /** @internal rows for Sequence.prefill's `images` */
  async encodeForPrefill(images: unknown): Promise<Float32Array | undefined> {
    if (images === undefined) return undefined;
    if (isEmbeddings(images)) return images.data;
    if (!Array.isArray(images)) throw badArgument('images must be an array of images or the result of encodeImages');
    if (images.length === 0) return undefined;
    return (await this.encodeImages(images)).data;
  }

  createSequence(): Sequence {
    this.checkAlive();
    const seq = new Sequence(this, callNative(() => this.#native.createSequence()));
    return seq;
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw VlacError.from(err);
    }
  }

  /** @internal one batched model call of the task layer. */
  async nativeGenerateBatch(requests: { ids: Int32Array; images: ImageInput[] }[], options: {
    maxTokens: number; logprobs?: number; signal?: AbortSignal; timeoutMs?: number; temperature?: number; topK?: number;
    topP?: number; seed?: number;
  }) {
    this.checkAlive();
    // Before any work (api.md §7): no image is decoded and nothing is posted for a prompt that cannot fit.
    for (const r of requests) {
      if (r.ids.length + options.maxTokens > this.maxContext)
        throw new VlacError('ERR_VLAC_CONTEXT_FULL',
          `a prompt of ${r.ids.length} tokens + maxTokens ${options.maxTokens} exceeds maxContext ${this.maxContext}`);
    }
    const t0 = performance.now();
    const prepared = await Promise.all(requests.map(async (r) => ({
      ids: r.ids,
      ...(r.images.length ? { tiles: (await tileParts(r.images)).map((p) => p.uint8) } : {}),
    })));
    const decodeImagesMs = performance.now() - t0;
    // The task layer passes what is left of its deadline; under 1 ms left is still a timeout, not a bad argument.
    const timeoutMs = options.timeoutMs === undefined ? undefined : Math.max(1, options.timeoutMs);
    const native = nativeGenerateOptions({ ...options, logprobs: options.logprobs ?? 10, timeoutMs }, this.tokenizer);
    const out = await runCancellable(this, options.signal, (token) => this.#native.generateBatch(prepared, native, token));
    if (out.timedOut) throw new VlacError('ERR_VLAC_TIMEOUT', `the call passed timeoutMs ${options.timeoutMs}`);
    if (options.signal?.aborted) throw new VlacError('ERR_VLAC_ABORTED', 'the call was aborted');
    return { replies: out.replies, timing: { decodeImagesMs, ...out.timing } };
  }

  /**
   * @internal the background prefill of a stream's next prefix (TaskBackend.prefetch): resolves once
   * it is queued on the inference thread; the work's own outcome (done, cancelled by `signal`, or
   * refused after dispose) is nobody's error.
   */
  async nativePrefetch(request: { ids: Int32Array; images: ImageInput[] }, signal: AbortSignal): Promise<void> {
    if (this.#disposed || signal.aborted) return;
    const tiles = request.images.length ? (await tilesOf(request.images)).uint8 : undefined;
    if (this.#disposed || signal.aborted) return;
    const token = this.newCancelToken();
    const onAbort = () => token.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    let work: Promise<unknown>;
    try {
      work = this.#native.prefetchPrefix({ ids: request.ids, ...(tiles ? { tiles } : {}) }, token);
    } catch {
      signal.removeEventListener('abort', onAbort);
      return;
    }
    void work.catch(() => undefined).finally(() => signal.removeEventListener('abort', onAbort));
  }

  /**
   * Runs the engine's benchmark scenarios (the same code as `vlac_cli bench`); resolves the JSON report
   * (docs/bench-schema.json). With `compare` (two or more configurations), each scenario runs on every
   * configuration in turn, interleaved, on this model's inference thread: make no other call on
   * those models until it resolves.
   */
  async benchmark(options: BenchmarkOptions, compare?: BenchmarkConfiguration[]): Promise<Record<string, unknown>> {
    this.checkAlive();
    const configurations = compare?.map((c) => {
      c.vlac.checkAlive();
      return { label: c.label, threads: c.threads ?? 0, model: c.vlac.#native };
    });
    const text = await this.#call(() => this.#native.benchmark(configurations ? { ...options, configurations } : options));
    return JSON.parse(text) as Record<string, unknown>;
  }

  /** The streaming critic (api.md §6); a push after dispose rejects with ERR_VLAC_DISPOSED, even one that needs no model call. */
  override criticStream(options: CriticStreamOptions): CriticStreamHandle {
    this.checkAlive();
    const stream = super.criticStream(options);
    return {
      ...stream,
      push: (frame, pushOptions) => {
        try {
          this.checkAlive();
        } catch (err) {
          return Promise.reject(err);
        }
        return stream.push(frame, pushOptions);
      },
    };
  }

  /** Frees everything; calls in flight reject with ERR_VLAC_DISPOSED. A second call is a no-op. */
  async dispose(): Promise<void> {
    if (this.#disposing) return this.#disposing;
    this.#disposed = true;
    this.#disposing = this.#native.dispose().catch(() => undefined);
    return this.#disposing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

// The uint8 tiles of images (preprocessed already, or ImageInputs preprocessed the VLAC way), one
// array per image, in order (generateBatch joins them natively).
async function tileParts(images: (PreprocessedImage | ImageInput)[]): Promise<{ tiles: number; uint8: Uint8Array }[]> {
  return Promise.all(images.map((img, i) => (isPreprocessed(img) ? img : preprocessTiles(img as ImageInput, {}, i))));
}

// The same, concatenated.
async function tilesOf(images: (PreprocessedImage | ImageInput)[]): Promise<{ uint8: Uint8Array; count: number }> {
  const done = await tileParts(images);
  const count = done.reduce((n, p) => n + p.tiles, 0);
  const uint8 = new Uint8Array(done.reduce((n, p) => n + p.uint8.length, 0));
  let at = 0;
  for (const p of done) {
    uint8.set(p.uint8, at);
    at += p.uint8.length;
  }
  return { uint8, count };
}

function isPreprocessed(v: unknown): v is PreprocessedImage {
  return typeof v === 'object' && v !== null && 'tiles' in v && 'uint8' in v && (v as PreprocessedImage).uint8 instanceof Uint8Array
    && typeof (v as PreprocessedImage).tiles === 'number';
}

function isEmbeddings(v: unknown): v is Embeddings {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as Embeddings).data instanceof Float32Array;
}

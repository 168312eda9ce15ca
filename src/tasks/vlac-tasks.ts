// The VLAC task methods (api.md §5) over any TaskBackend: the native engine in production, a
// scripted reply function in `vlac-engine/testing`. Everything the official package does around the
// model (prompts, batching, parsing, rich mode, values, done) lives here, once.
import { badArgument, VlacError } from '../errors.js';
import { parseAction, parsePlain, parseThink } from './parse.js';
import {
  actionInverseQuery, actionQuery, actionScoreQuery, criticQuery, describeQuery, doneQuery, goalDoneQuery,
  buildQuery, inContextDoneQuery, renderChat, VLAC_SYSTEM_PROMPT,
} from './prompts.js';
import { pyFormatFixed } from './pynum.js';
import { richText } from './rich.js';
import { chunk, criticPairs, doneFrames, inContextDoneBatches, selectReference } from './trajectory.js';
import type {
  ActionInverseOptions, ActionOptions, CriticStreamHandle, CriticStreamOptions, PushOptions, PushResult, ActionResult, ActionScoreOptions, ActionScoreResult, ChatOptions, ChatResult,
  DataQualityResult, DescribeOptions, DescribeResult, DoneOptions, DoneResult, FrameSource, GenerateOptions,
  ImageInput, ModelRequest, PairCriticOptions, PairCriticResult, Progress, PromptKind, RenderedPrompt, Reply,
  ReplyFields, TaskBackend, Timing, TrajectoryCriticOptions, TrajectoryCriticResult, TrajectoryDoneOptions,
  TrajectoryDoneResult, ValueMode,
} from './types.js';
import {
  checkBool, checkCall, checkEnum, checkFunction, checkImage, checkImageList, checkInt, checkNumber, checkNumberList,
  checkOptions, checkTask, checkVector, DEFAULT_MAX_TOKENS, type CheckedCall,
} from './validate.js';
import { dataQuality as dataQualityOf, nextValue, postProcess, voc as vocOf } from './value.js';
import { framesFromVideo } from './video.js';

/** Top logprobs per step of every task request, as the official requests ask. */
const TASK_LOGPROBS = 10;

// api.md §5 defaults (the official README / web example settings).
const DEFAULT_REF_NUM = 6;
const DEFAULT_SKIP = 5;
const DEFAULT_BATCH = 10;
const DEFAULT_DONE_THRESHOLD = 0.9;
const DEFAULT_VIDEO_FPS = 5;

export interface VlacTasksOptions {
  /** The system prompt of every request; default the VLAC one (vlac-behavior.md §2.2, Q1). */
  system?: string;
}

interface Job { query: string; images: ImageInput[] }

// One task call's clock and stage-time sums, its abort signal and deadline.
class CallContext {
  readonly started = performance.now();
  readonly stages = { decodeImagesMs: 0, encodeMs: 0, prefillMs: 0, decodeMs: 0 };
  private readonly deadline?: number;

  constructor(readonly method: string, readonly call: CheckedCall) {
    if (call.timeoutMs !== undefined) this.deadline = this.started + call.timeoutMs;
  }

  check(): void {
    if (this.call.signal?.aborted) throw new VlacError('ERR_VLAC_ABORTED', `${this.method}: aborted`, { cause: this.call.signal.reason });
    if (this.deadline !== undefined && performance.now() >= this.deadline) {
      throw new VlacError('ERR_VLAC_TIMEOUT', `${this.method}: timeoutMs (${this.call.timeoutMs} ms) passed`);
    }
  }

  remainingMs(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline - performance.now());
  }

  /** The stage times of one batched call (every reply of it reports the same batch times). */
  add(replies: Reply[]): void {
    const t = replies[0]?.timing;
    if (!t) return;
    this.stages.decodeImagesMs += t.decodeImagesMs ?? 0;
    this.stages.encodeMs += t.encodeMs ?? 0;
    this.stages.prefillMs += t.prefillMs ?? 0;
    this.stages.decodeMs += t.decodeMs ?? 0;
  }

  timing(): Timing {
    return { ...this.stages, totalMs: performance.now() - this.started };
  }
}

function replyFields(r: Reply): ReplyFields {
  return { text: r.text, ids: r.ids, steps: r.steps, finishReason: r.finishReason };
}

/** The critic (and think progress) of a reply: rich string first when asked, plain text as fallback (Q8). */
export function interpretCritic(
  reply: Reply, tokenizer: TaskBackend['tokenizer'], o: { think: boolean; rich: boolean; reverse: boolean },
): { critic: number | null; progress?: Progress } {
  const parse = (s: string) => (o.think ? parseThink(s) : { critic: parsePlain(s), progress: undefined });
  let r = parse(reply.text);
  if (o.rich) {
    const rich = richText(reply.steps, tokenizer);
    if (rich !== null) {
      const fromRich = parse(rich);
      if (fromRich.critic !== null) r = fromRich;
    }
  }
  let { critic, progress } = r;
  if (o.reverse) {
    if (critic !== null) critic = 0 - critic;
    if (progress) progress = { first: progress.second, second: progress.first };
  }
  return progress ? { critic, progress } : { critic };
}

/** A plain or goal done reply's number: float() of the (rich) text. */
export function interpretDone(reply: Reply, tokenizer: TaskBackend['tokenizer'], rich: boolean): number | null {
  if (rich) {
    const s = richText(reply.steps, tokenizer);
    const v = s === null ? null : parsePlain(s);
    if (v !== null) return v;
  }
  return parsePlain(reply.text);
}

/** An in-context done reply's number: the second image's progress / 100, as Python '{:.3f}' re-read. */
export function interpretInContextDone(reply: Reply, tokenizer: TaskBackend['tokenizer'], rich: boolean): number | null {
  const fromText = (s: string) => {
    const b = parseThink(s).progress.second;
    return b === null ? null : Number(pyFormatFixed(b / 100, 3));
  };
  if (rich) {
    const s = richText(reply.steps, tokenizer);
    const v = s === null ? null : fromText(s);
    if (v !== null) return v;
  }
  return fromText(reply.text);
}

/** The official decision: v if v > threshold (strict) else 0; an unparsable reply is 0. */
function thresholded(v: number | null, threshold: number): number {
  return v !== null && v > threshold ? v : 0;
}

export class VlacTasks {
  protected readonly backend: TaskBackend;
  protected readonly system: string;

  constructor(backend: TaskBackend, options: VlacTasksOptions = {}) {
    this.backend = backend;
    const system = options.system ?? VLAC_SYSTEM_PROMPT;
    if (typeof system !== 'string') throw badArgument('system must be a string');
    this.system = system;
  }

  // ---- the one path to the model ----

  /** Renders the jobs and runs them as ONE batched model call. */
  protected async run(ctx: CallContext, jobs: Job[], extra: Partial<GenerateOptions> = {}, system = this.system): Promise<Reply[]> {
    ctx.check();
    const { tokenizer, imageTokens } = this.backend;
    const requests: ModelRequest[] = jobs.map((j) => ({
      ids: renderChat(tokenizer, imageTokens, j.query, j.images.length, system).ids,
      images: j.images,
      query: j.query,
    }));
    const opts: GenerateOptions = { logprobs: TASK_LOGPROBS, ...extra, maxTokens: ctx.call.maxTokens };
    if (ctx.call.signal) opts.signal = ctx.call.signal;
    const remaining = ctx.remainingMs();
    if (remaining !== undefined) opts.timeoutMs = remaining;
    const replies = await this.backend.generate(requests, opts);
    if (!Array.isArray(replies) || replies.length !== requests.length) {
      throw new VlacError('ERR_VLAC_INTERNAL', `internal error (please report): the model call returned ${Array.isArray(replies) ? replies.length : 'no'} replies for ${requests.length} requests`);
    }
    ctx.add(replies);
    return replies;
  }

  private async frameList(src: unknown, name: string, call: CheckedCall, min: number): Promise<ImageInput[]> {
    if (src !== null && typeof src === 'object' && !Array.isArray(src) && 'video' in src) {
      const v = src as { video: unknown; fps?: unknown };
      if (typeof v.video !== 'string' || v.video.length === 0) throw badArgument(`${name}.video must be a non-empty file path`);
      const fps = checkNumber(v.fps, `${name}.fps`, DEFAULT_VIDEO_FPS, { min: Number.MIN_VALUE });
      return framesFromVideo(v.video, fps, name, call.signal);
    }
    return checkImageList(src, name, min);
  }

  // ---- pair critic ----

  async pairCritic(options: PairCriticOptions): Promise<PairCriticResult> {
    const o = checkOptions(options, 'pairCritic');
    const m = 'pairCritic';
    const task = checkTask(o.task, `${m}: task`);
    const first = checkImage(o.first, `${m}: first`);
    const second = checkImage(o.second, `${m}: second`);
    const think = checkBool(o.think, `${m}: think`, false);
    const rich = checkBool(o.rich, `${m}: rich`, false);
    const refNum = checkInt(o.refNum, `${m}: refNum`, DEFAULT_REF_NUM, 0);
    const reference = o.reference === undefined ? undefined : checkImageList(o.reference, `${m}: reference`, 1);
    const start = o.start === undefined ? first : checkImage(o.start, `${m}: start`);
    if (reference && refNum < 2) throw badArgument(`${m}: refNum must be at least 2 when a reference is given (got ${refNum})`);
    const ctx = new CallContext(m, checkCall(o, m));

    const n = reference ? refNum : 0;
    const images = reference ? [...selectReference(reference, n), start, first, second] : [first, second];
    const [reply] = await this.run(ctx, [{ query: criticQuery(task, n, think), images }]);
    const r = interpretCritic(reply!, this.backend.tokenizer, { think, rich, reverse: false });
    return { ...r, ...replyFields(reply!), timing: ctx.timing() };
  }

  // ---- done ----

  async done(options: DoneOptions): Promise<DoneResult> {
    const o = checkOptions(options, 'done');
    const m = 'done';
    const image = checkImage(o.image, `${m}: image`);
    const threshold = checkNumber(o.threshold, `${m}: threshold`, DEFAULT_DONE_THRESHOLD);
    const rich = checkBool(o.rich, `${m}: rich`, false);
    const goal = o.goal === undefined ? undefined : checkImage(o.goal, `${m}: goal`);
    const reference = o.reference === undefined ? undefined : checkImageList(o.reference, `${m}: reference`, 1);
    if (goal && reference) throw badArgument(`${m}: give either goal (goal-image done) or reference (in-context done), not both`);
    const task = goal && (o.task === null || o.task === undefined) ? null : checkTask(o.task, `${m}: task`);
    const ctx0 = checkCall(o, m);

    let job: Job;
    let inContext = false;
    if (goal) {
      job = { query: goalDoneQuery(task), images: [goal, image] };
    } else if (reference) {
      const refNum = checkInt(o.refNum, `${m}: refNum`, DEFAULT_REF_NUM, 2);
      if (o.first === undefined || o.previous === undefined) {
        throw badArgument(`${m}: in-context done (reference given) needs first (the episode's first frame) and previous (the frame before image)`);
      }
      const first = checkImage(o.first, `${m}: first`);
      const previous = checkImage(o.previous, `${m}: previous`);
      job = { query: inContextDoneQuery(task!, refNum), images: [...selectReference(reference, refNum), first, previous, image] };
      inContext = true;
    } else {
      job = { query: doneQuery(task!), images: [image] };
    }
    const ctx = new CallContext(m, ctx0);
    const [reply] = await this.run(ctx, [job]);
    const tok = this.backend.tokenizer;
    const value = inContext ? interpretInContextDone(reply!, tok, rich) : interpretDone(reply!, tok, rich);
    return { done: value !== null && value > threshold, value, ...replyFields(reply!), timing: ctx.timing() };
  }

  // ---- trajectory critic (get_trajectory_critic / web_trajectory_critic) ----

  async trajectoryCritic(options: TrajectoryCriticOptions): Promise<TrajectoryCriticResult> {
    const o = checkOptions(options, 'trajectoryCritic');
    const m = 'trajectoryCritic';
    const task = checkTask(o.task, `${m}: task`);
    const refNum = checkInt(o.refNum, `${m}: refNum`, DEFAULT_REF_NUM, 0);
    const skip = checkInt(o.skip, `${m}: skip`, DEFAULT_SKIP, 1);
    const batchSize = checkInt(o.batchSize, `${m}: batchSize`, DEFAULT_BATCH, 1);
    const think = checkBool(o.think, `${m}: think`, false);
    const rich = checkBool(o.rich, `${m}: rich`, false);
    const reverse = checkBool(o.reverse, `${m}: reverse`, false);
    const frameSkip = checkBool(o.frameSkip, `${m}: frameSkip`, true);
    const valueMode = checkEnum<ValueMode>(o.valueMode, `${m}: valueMode`, 'simple', ['simple', 'ratio', 'mix_f']);
    const additionScale = checkNumber(o.additionScale, `${m}: additionScale`, 1, { nonZero: true });
    const bias = checkNumber(o.bias, `${m}: bias`, 0);
    const relatedCritic = checkBool(o.relatedCritic, `${m}: relatedCritic`, false);
    const positiveClip = checkNumber(o.positiveClip, `${m}: positiveClip`, 0, { min: 0 });
    const negativeClip = checkNumber(o.negativeClip, `${m}: negativeClip`, 0, { min: 0 });
    const onProgress = checkFunction(o.onProgress, `${m}: onProgress`) as TrajectoryCriticOptions['onProgress'];
    let doneSpec: { threshold: number; inContext: boolean } | undefined;
    if (o.done !== undefined && o.done !== false) {
      const d = o.done === true ? {} : checkOptions(o.done, `${m}: done`);
      doneSpec = {
        threshold: checkNumber(d.threshold, `${m}: done.threshold`, DEFAULT_DONE_THRESHOLD),
        inContext: checkBool(d.inContext, `${m}: done.inContext`, false),
      };
    }
    const call = checkCall(o, m);
    const frames = await this.frameList(o.frames, `${m}: frames`, call, 1);
    const reference = o.reference === undefined ? undefined : await this.frameList(o.reference as FrameSource, `${m}: reference`, call, 1);
    if (reference && refNum < 2) throw badArgument(`${m}: refNum must be at least 2 when a reference is given (got ${refNum})`);
    const ctx = new CallContext(m, call);
    const tok = this.backend.tokenizer;

    const n = reference ? refNum : 0;
    const refFrames = reference ? selectReference(reference, n) : [];

    // Done first, as the web call does; only for the frames the result keeps (Q11).
    let done: boolean[] | undefined;
    let doneValues: number[] | undefined;
    const doneReplies: ReplyFields[] = [];
    if (doneSpec) {
      const at = doneFrames(frames.length, skip, frameSkip);
      const inContext = doneSpec.inContext && reference !== undefined;
      const jobs: { frame: number; job: Job }[] = [];
      for (const j of at) {
        if (inContext) {
          // In-context done of frame j uses the pair (j - 1, j) whatever the skip (Q11).
          if (j > 0) jobs.push({ frame: j, job: { query: inContextDoneQuery(task, n), images: [...refFrames, frames[0]!, frames[j - 1]!, frames[j]!] } });
        } else {
          jobs.push({ frame: j, job: { query: doneQuery(task), images: [frames[j]!] } });
        }
      }
      const valueAt = new Map<number, number | null>();
      for (const batch of chunk(jobs, batchSize)) {
        const replies = await this.run(ctx, batch.map((b) => b.job));
        replies.forEach((r, k) => {
          valueAt.set(batch[k]!.frame, inContext ? interpretInContextDone(r, tok, true) : interpretDone(r, tok, true));
          doneReplies.push(replyFields(r));
        });
      }
      // The official in-context list starts with 0 for frame 0.
      doneValues = at.map((j) => thresholded(valueAt.has(j) ? valueAt.get(j)! : 0, doneSpec!.threshold));
      done = doneValues.map((v) => v > doneSpec!.threshold);
    }

    const pairs = criticPairs(frames.length, skip, frameSkip);
    const query = criticQuery(task, n, think);
    const jobs: Job[] = pairs.map(([a, b]) => {
      const pair = reverse ? [frames[b]!, frames[a]!] : [frames[a]!, frames[b]!];
      return { query, images: reference ? [...refFrames, frames[0]!, ...pair] : pair };
    });
    const raw: (number | null)[] = [];
    const progress: Progress[] = [];
    const texts: string[] = [];
    const replies: ReplyFields[] = [];
    for (const batch of chunk(jobs, batchSize)) {
      const out = await this.run(ctx, batch);
      for (const r of out) {
        const c = interpretCritic(r, tok, { think, rich, reverse });
        let critic = c.critic;
        if (critic !== null && !frameSkip) critic = critic / skip;
        if (critic !== null) critic = critic / additionScale;
        raw.push(critic);
        if (c.progress) progress.push(c.progress);
        texts.push(r.text);
        replies.push(replyFields(r));
      }
      onProgress?.(raw.length, jobs.length);
    }

    const post = postProcess(raw.map((c) => c ?? 0), { valueMode, relatedCritic, bias, positiveClip, negativeClip });
    const critic = post.critic.map((c, k) => (raw[k] === null ? null : c));
    const result: TrajectoryCriticResult = {
      pairs, critic, value: post.value, unparsed: raw.filter((c) => c === null).length, texts, replies, timing: ctx.timing(),
    };
    if (think) result.progress = progress;
    if (done) {
      result.done = done;
      result.doneValues = doneValues;
      result.doneReplies = doneReplies;
    }
    return result;
  }

  // ---- streaming critic (api.md §6) ----

  /**
   * A critic over frames pushed one at a time (control loops): push k scores (frame k-1, frame k),
   * with the reference and frame 0 as in trajectoryCritic, so the results equal trajectoryCritic
   * with skip 1. What is shared between pushes (prefix, frames already seen) is the backend's cache.
   * After each push the next pair's prompt is known but for its last frame: a backend that can
   * (TaskBackend.prefetch) prefills it in the background, ahead of the next push, which then waits
   * for that work instead of redoing it; reset() and close() cancel it.
   */
  criticStream(options: CriticStreamOptions): CriticStreamHandle {
    const o = checkOptions(options, 'criticStream');
    const m = 'criticStream';
    const task = checkTask(o.task, `${m}: task`);
    const refNum = checkInt(o.refNum, `${m}: refNum`, DEFAULT_REF_NUM, 0);
    const reference = o.reference === undefined ? undefined : checkImageList(o.reference, `${m}: reference`, 1);
    if (reference && refNum < 2) throw badArgument(`${m}: refNum must be at least 2 when a reference is given (got ${refNum})`);
    const rich = checkBool(o.rich, `${m}: rich`, false);
    const think = checkBool(o.think, `${m}: think`, false);
    const maxTokens = checkInt(o.maxTokens, `${m}: maxTokens`, DEFAULT_MAX_TOKENS, 1);
    let threshold: number | undefined;
    if (o.done !== undefined && o.done !== false) {
      const d = o.done === true ? {} : checkOptions(o.done, `${m}: done`);
      threshold = checkNumber(d.threshold, `${m}: done.threshold`, DEFAULT_DONE_THRESHOLD);
    }
    const refFrames = reference ? selectReference(reference, refNum) : [];
    const query = criticQuery(task, reference ? refNum : 0, think);
    const tok = this.backend.tokenizer;

    let frames: ImageInput[] = [];
    let value = 0;
    let closed = false;
    let queue: Promise<unknown> = Promise.resolve();
    let prefetching: AbortController | undefined;
    const cancelPrefetch = () => {
      prefetching?.abort();
      prefetching = undefined;
    };
    // Every pair of the stream has the same prompt ids (the images are placeholders in them).
    let pairIds: Int32Array | undefined;
    const pairImages = reference ? refFrames.length + 3 : 2;

    // The next pair is (the last frame, the frame to come): its prompt up to the last image is known.
    const prefetchNext = async (): Promise<void> => {
      const backend = this.backend;
      if (!backend.prefetch || closed || frames.length === 0) return;
      cancelPrefetch();
      const controller = new AbortController();
      prefetching = controller;
      pairIds ??= renderChat(tok, backend.imageTokens, query, pairImages, this.system).ids;
      const last = frames[frames.length - 1]!;
      const images = reference ? [...refFrames, frames[0]!, last] : [last];
      try {
        await backend.prefetch({ ids: pairIds, images, query }, controller.signal);
      } catch {
        // Nothing to report: the next push does this work itself.
      }
    };

    const pushOne = async (frame: ImageInput, p: Record<string, unknown>): Promise<PushResult> => {
      const call = checkCall({ ...p, maxTokens }, `${m}.push`);
      if (closed) throw new VlacError('ERR_VLAC_DISPOSED', `${m}: the stream was closed`);
      const ctx = new CallContext(`${m}.push`, call);
      const index = frames.length;
      const jobs: Job[] = [];
      if (threshold !== undefined) jobs.push({ query: doneQuery(task), images: [frame] });
      if (index > 0) {
        const pair = [frames[index - 1]!, frame];
        jobs.push({ query, images: reference ? [...refFrames, frames[0]!, ...pair] : pair });
      }
      const replies = jobs.length > 0 ? await this.run(ctx, jobs) : [];
      if (closed) throw new VlacError('ERR_VLAC_DISPOSED', `${m}: the stream was closed`);
      frames.push(frame);
      const out: PushResult = {
        index, critic: null, value: 0, text: '', ids: new Int32Array(0), steps: [], finishReason: 'stop', timing: ctx.timing(),
      };
      if (threshold !== undefined) {
        const doneValue = thresholded(interpretDone(replies[0]!, tok, true), threshold);
        out.doneValue = doneValue;
        out.done = doneValue > threshold;
      }
      if (index > 0) {
        const reply = replies[replies.length - 1]!;
        const c = interpretCritic(reply, tok, { think, rich, reverse: false });
        value = nextValue(value, c.critic ?? 0, 'simple');
        Object.assign(out, replyFields(reply), { critic: c.critic });
        if (c.progress) out.progress = c.progress;
      }
      out.value = value;
      out.timing = ctx.timing();
      return out;
    };

    return {
      push: (frame: ImageInput, pushOptions: PushOptions = {}) => {
        const run = async () => {
          const img = checkImage(frame, `${m}.push: frame`);
          return pushOne(img, checkOptions(pushOptions, `${m}.push`));
        };
        // Pushes run in order: each scores against the frame before it. The background prefill a
        // push leaves is queued before the next push starts.
        const result = queue.then(run, run);
        queue = result.then(prefetchNext, () => undefined).catch(() => undefined);
        return result;
      },
      reset: () => {
        cancelPrefetch();
        frames = [];
        value = 0;
      },
      close: () => {
        closed = true;
        cancelPrefetch();
      },
    };
  }

  // ---- trajectory done (get_trajectory_done) ----

  async trajectoryDone(options: TrajectoryDoneOptions): Promise<TrajectoryDoneResult> {
    const o = checkOptions(options, 'trajectoryDone');
    const m = 'trajectoryDone';
    const goal = o.goal === undefined ? undefined : checkImage(o.goal, `${m}: goal`);
    const task = goal && (o.task === null || o.task === undefined) ? null : checkTask(o.task, `${m}: task`);
    const refNum = checkInt(o.refNum, `${m}: refNum`, DEFAULT_REF_NUM, 0);
    const batchSize = checkInt(o.batchSize, `${m}: batchSize`, DEFAULT_BATCH, 1);
    const rich = checkBool(o.rich, `${m}: rich`, false);
    const threshold = checkNumber(o.threshold, `${m}: threshold`, 0);
    const skip = checkInt(o.skip, `${m}: skip`, 1, 1);
    const onProgress = checkFunction(o.onProgress, `${m}: onProgress`) as TrajectoryDoneOptions['onProgress'];
    const call = checkCall(o, m);
    const all = await this.frameList(o.frames, `${m}: frames`, call, 1);
    const reference = o.reference === undefined ? undefined : await this.frameList(o.reference as FrameSource, `${m}: reference`, call, 1);
    if (goal && reference) throw badArgument(`${m}: give either goal (goal-image done) or reference (in-context done), not both`);
    if (reference && refNum < 2) throw badArgument(`${m}: refNum must be at least 2 when a reference is given (got ${refNum})`);
    const ctx = new CallContext(m, call);
    const tok = this.backend.tokenizer;

    const frames = all.filter((_, i) => i % skip === 0);
    const values: (number | null)[] = [];
    const texts: string[] = [];
    const replies: ReplyFields[] = [];
    const collect = (out: Reply[], read: (r: Reply) => number | null) => {
      for (const r of out) {
        values.push(read(r));
        texts.push(r.text);
        replies.push(replyFields(r));
      }
    };

    if (reference) {
      const refFrames = selectReference(reference, refNum);
      const query = inContextDoneQuery(task!, refNum);
      values.push(0);
      const batches = inContextDoneBatches(frames.length, batchSize);
      for (const batch of batches) {
        const out = await this.run(ctx, batch.map((i) => ({ query, images: [...refFrames, frames[0]!, frames[i - 1]!, frames[i]!] })));
        collect(out, (r) => interpretInContextDone(r, tok, rich));
        onProgress?.(values.length - 1, frames.length - 1);
      }
    } else {
      const jobs: Job[] = frames.map((f) => (goal ? { query: goalDoneQuery(task), images: [goal, f] } : { query: doneQuery(task!), images: [f] }));
      for (const batch of chunk(jobs, batchSize)) {
        collect(await this.run(ctx, batch), (r) => interpretDone(r, tok, rich));
        onProgress?.(values.length, jobs.length);
      }
    }
    return { done: values.map((v) => thresholded(v, threshold)), values, texts, replies, timing: ctx.timing() };
  }

  // ---- actions ----

  async action(options: ActionOptions): Promise<ActionResult> {
    const o = checkOptions(options, 'action');
    const m = 'action';
    const task = checkTask(o.task, `${m}: task`);
    const images = checkImageList(o.images, `${m}: images`, 1, 3);
    const state = o.state === undefined ? undefined : checkVector(o.state, `${m}: state`, [7, 14]);
    const position = checkBool(o.position, `${m}: position`, false);
    const simple = checkBool(o.simple, `${m}: simple`, false);
    const think = checkBool(o.think, `${m}: think`, false);
    const rich = checkBool(o.rich, `${m}: rich`, false);
    const gripperFormat = checkBool(o.gripperFormat, `${m}: gripperFormat`, false);
    const outputNum = checkInt(o.outputNum, `${m}: outputNum`, 1, 1);
    const ctx = new CallContext(m, checkCall(o, m));
    const query = actionQuery({ task, views: images.length, state, position, simple, think, outputNum, gripperFormat });
    const [reply] = await this.run(ctx, [{ query, images }]);
    const arms = state?.length === 14 ? 2 : 1;
    return { action: this.readAction(reply!, rich, { simple, arms }), ...replyFields(reply!), timing: ctx.timing() };
  }

  private readAction(reply: Reply, rich: boolean, o: { simple: boolean; arms: number }): number[] | null {
    if (rich) {
      const s = richText(reply.steps, this.backend.tokenizer);
      const a = s === null ? null : parseAction(s, o);
      if (a) return a;
    }
    return parseAction(reply.text, o);
  }

  async actionScore(options: ActionScoreOptions): Promise<ActionScoreResult> {
    const o = checkOptions(options, 'actionScore');
    const m = 'actionScore';
    const task = checkTask(o.task, `${m}: task`);
    const image = checkImage(o.image, `${m}: image`);
    const state = checkVector(o.state, `${m}: state`, [7, 14]);
    const action = checkVector(o.action, `${m}: action`, [7, 14]);
    const rich = checkBool(o.rich, `${m}: rich`, false);
    const ctx = new CallContext(m, checkCall(o, m));
    const [reply] = await this.run(ctx, [{ query: actionScoreQuery(task, state, action), images: [image] }]);
    return { score: interpretDone(reply!, this.backend.tokenizer, rich), ...replyFields(reply!), timing: ctx.timing() };
  }

  async actionInverse(options: ActionInverseOptions): Promise<ActionResult> {
    const o = checkOptions(options, 'actionInverse');
    const m = 'actionInverse';
    const first = checkImage(o.first, `${m}: first`);
    const second = checkImage(o.second, `${m}: second`);
    const rich = checkBool(o.rich, `${m}: rich`, false);
    const ctx = new CallContext(m, checkCall(o, m));
    const [reply] = await this.run(ctx, [{ query: actionInverseQuery(), images: [first, second] }]);
    return { action: this.readAction(reply!, rich, { simple: false, arms: 1 }), ...replyFields(reply!), timing: ctx.timing() };
  }

  /** The official task-description prompt (get_trajectory_task) on a trajectory's first and last frames. */
  async describe(options: DescribeOptions): Promise<DescribeResult> {
    const o = checkOptions(options, 'describe');
    const first = checkImage(o.first, 'describe: first');
    const last = checkImage(o.last, 'describe: last');
    const ctx = new CallContext('describe', checkCall(o, 'describe'));
    const [reply] = await this.run(ctx, [{ query: describeQuery(), images: [first, last] }]);
    return { ...replyFields(reply!), timing: ctx.timing() };
  }

  /** Free chat / VQA in the same chat layout. Greedy unless temperature > 0. */
  async generate(options: ChatOptions): Promise<ChatResult> {
    const o = checkOptions(options, 'generate');
    const m = 'generate';
    if (typeof o.prompt !== 'string') throw badArgument(`${m}: prompt must be a string`);
    const images = o.images === undefined ? [] : checkImageList(o.images, `${m}: images`, 0);
    if (o.system !== undefined && typeof o.system !== 'string') throw badArgument(`${m}: system must be a string`);
    const extra: Partial<GenerateOptions> = {
      temperature: checkNumber(o.temperature, `${m}: temperature`, 0, { min: 0 }),
      topK: checkInt(o.topK, `${m}: topK`, 0, 0),
      topP: checkNumber(o.topP, `${m}: topP`, 1, { min: 0 }),
      logprobs: checkInt(o.logprobs, `${m}: logprobs`, TASK_LOGPROBS, 0, 20),
    };
    if (extra.topP! > 1) throw badArgument(`${m}: topP must be in [0, 1] (got ${extra.topP})`);
    if (o.seed !== undefined) extra.seed = checkInt(o.seed, `${m}: seed`, 0, 0);
    if (o.stop !== undefined) {
      if (!Array.isArray(o.stop) || !o.stop.every((s) => typeof s === 'string' && s.length > 0)) {
        throw badArgument(`${m}: stop must be an array of non-empty strings`);
      }
      extra.stop = o.stop as string[];
    }
    const ctx = new CallContext(m, checkCall(o, m));
    const [reply] = await this.run(ctx, [{ query: o.prompt, images }], extra, (o.system as string | undefined) ?? this.system);
    return { ...replyFields(reply!), timing: ctx.timing() };
  }

  // ---- pure helpers ----

  /** Value-order correlation (Spearman, average ranks) of a value curve. */
  voc(values: number[]): number {
    return vocOf(checkNumberList(values, 'voc: values', false) as number[]);
  }

  /** The official data-filtering diagnosis of a critic list (vlac-behavior.md §11). */
  dataQuality(critic: (number | null)[], options: { skip?: number; frameSkip?: boolean } = {}): DataQualityResult {
    const c = checkNumberList(critic, 'dataQuality: critic', true);
    const o = checkOptions(options, 'dataQuality');
    return dataQualityOf(c, {
      skip: checkInt(o.skip, 'dataQuality: skip', DEFAULT_SKIP, 1),
      frameSkip: checkBool(o.frameSkip, 'dataQuality: frameSkip', true),
    });
  }

  /** The exact prompt a method sends (api.md §5 kinds). */
  renderPrompt(kind: PromptKind, args: Record<string, unknown> = {}): RenderedPrompt {
    if (args === null || typeof args !== 'object') throw badArgument('renderPrompt: args must be an object');
    const { query, images, system } = buildQuery(kind, args);
    return renderChat(this.backend.tokenizer, this.backend.imageTokens, query, images, system ?? this.system);
  }
}

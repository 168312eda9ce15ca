// `vlac-engine/testing` (api.md §6b): the task methods with every model call answered by a script.
// Reads config.json and the tokenizer only (no weights), so prompts, batching, parsing, rich mode,
// values and done run exactly as with the model: for users' tests of their RL code, and for
// replaying the official transcripts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { badArgument, VlacError } from './errors.js';
import { Tokenizer } from './tokenizer.js';
import { VlacTasks, type VlacTasksOptions } from './tasks/vlac-tasks.js';
import type { FinishReason, GenerateOptions, ImageInput, ModelRequest, Reply, Step, TaskBackend, TokenizerLike } from './tasks/types.js';

export type * from './tasks/types.js';

/** What the script sees of each request. */
export interface ScriptedRequest {
  /** Index of the batched model call, counted from 0 over the object's life. */
  call: number;
  /** Index of the request within that call. */
  index: number;
  /** The user text (with its `<image>` tags). */
  query: string;
  /** The ImageInput values the caller passed, the same objects, in prompt order. */
  images: ImageInput[];
  /** The exact prompt ids. */
  ids: Int32Array;
}

export interface ScriptedToken {
  id: number;
  token: string;
  logprob: number;
  /** Best first, the chosen token among them; default: the token alone. */
  top?: { id: number; token: string; logprob: number }[];
}

export interface ScriptedReply {
  text: string;
  /** The generated tokens; default: the text tokenized, each token certain (logprob 0). */
  tokens?: ScriptedToken[];
  finishReason?: FinishReason;
}

export interface ScriptedOptions extends VlacTasksOptions {
  reply: (request: ScriptedRequest) => ScriptedReply | Promise<ScriptedReply>;
}

/** Image tokens per 448 tile: (image_size / patch)^2 * downsample_ratio^2 (256 for VLAC). */
export function imageTokensFromConfig(config: unknown, file: string): number {
  const bad = (what: string) => new VlacError('ERR_VLAC_BAD_CONFIG', `${file}: ${what}`);
  if (config === null || typeof config !== 'object') throw bad('not a JSON object');
  const c = config as { force_image_size?: unknown; downsample_ratio?: unknown; vision_config?: { patch_size?: unknown; image_size?: unknown } };
  const size = c.force_image_size ?? c.vision_config?.image_size;
  const patch = c.vision_config?.patch_size;
  const ratio = c.downsample_ratio;
  const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!positive(size)) throw bad('force_image_size (or vision_config.image_size) must be a positive number');
  if (!positive(patch)) throw bad('vision_config.patch_size must be a positive number');
  if (!positive(ratio)) throw bad('downsample_ratio must be a positive number');
  const tokens = (size / patch) ** 2 * ratio ** 2;
  if (!Number.isInteger(tokens) || tokens < 1) throw bad(`(force_image_size / patch_size)^2 * downsample_ratio^2 = ${tokens} is not a positive integer`);
  return tokens;
}

function readConfig(modelDir: string): unknown {
  const file = join(modelDir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new VlacError('ERR_VLAC_NOT_FOUND', `${file} does not exist or cannot be read`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new VlacError('ERR_VLAC_BAD_CONFIG', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function toReply(r: unknown, where: string, tokenizer: TokenizerLike): Reply {
  if (r === null || typeof r !== 'object') throw badArgument(`${where}: reply must return { text, tokens? }`);
  const { text, tokens, finishReason } = r as ScriptedReply;
  if (typeof text !== 'string') throw badArgument(`${where}: reply text must be a string`);
  if (finishReason !== undefined && !['stop', 'length', 'aborted'].includes(finishReason)) {
    throw badArgument(`${where}: finishReason must be 'stop', 'length' or 'aborted'`);
  }
  let steps: Step[];
  if (tokens === undefined) {
    steps = Array.from(tokenizer.encode(text, { bos: false }), (id) => ({
      id, logprob: 0, top: [{ id, token: tokenizer.decode([id]), logprob: 0 }],
    }));
  } else {
    if (!Array.isArray(tokens)) throw badArgument(`${where}: reply tokens must be an array`);
    const entry = (e: unknown, name: string) => {
      const t = e as { id?: unknown; token?: unknown; logprob?: unknown };
      if (e === null || typeof e !== 'object' || !Number.isInteger(t.id) || typeof t.token !== 'string' || typeof t.logprob !== 'number' || Number.isNaN(t.logprob)) {
        throw badArgument(`${where}: ${name} must be { id: integer, token: string, logprob: number }`);
      }
      return { id: t.id as number, token: t.token as string, logprob: t.logprob as number };
    };
    steps = tokens.map((t, k) => {
      const self = entry(t, `tokens[${k}]`);
      const top = (t as ScriptedToken).top;
      if (top !== undefined && !Array.isArray(top)) throw badArgument(`${where}: tokens[${k}].top must be an array`);
      return { id: self.id, logprob: self.logprob, top: top ? top.map((e, j) => entry(e, `tokens[${k}].top[${j}]`)) : [self] };
    });
  }
  return { text, ids: Int32Array.from(steps, (s) => s.id), steps, finishReason: finishReason ?? 'stop' };
}

class ScriptedBackend implements TaskBackend {
  private calls = 0;

  constructor(
    readonly tokenizer: TokenizerLike,
    readonly imageTokens: number,
    private readonly script: ScriptedOptions['reply'],
  ) {}

  async generate(requests: ModelRequest[], opts: GenerateOptions): Promise<Reply[]> {
    const call = this.calls++;
    const aborted = () => new VlacError('ERR_VLAC_ABORTED', 'the model call was aborted', { cause: opts.signal?.reason });
    if (opts.signal?.aborted) throw aborted();
    const replies: Reply[] = [];
    for (let index = 0; index < requests.length; index++) {
      const r = requests[index]!;
      const out = await this.script({ call, index, query: r.query, images: r.images, ids: r.ids });
      if (opts.signal?.aborted) throw aborted();
      replies.push(toReply(out, `call ${call} request ${index}`, this.tokenizer));
    }
    return replies;
  }
}

const needsModel = (what: string) =>
  badArgument(`${what} needs pixels or weights, which a scripted engine (vlac-engine/testing) does not have`);
const NEEDS_MODEL = (what: string) => Promise.reject(needsModel(what));

/** The scripted engine: the task methods of Vlac, with `reply` answering every model call. */
export class ScriptedVlac extends VlacTasks {
  readonly tokenizer: TokenizerLike;
  readonly imageTokens: number;

  /** @internal use scriptedVlac() */
  constructor(tokenizer: TokenizerLike, imageTokens: number, options: ScriptedOptions) {
    super(new ScriptedBackend(tokenizer, imageTokens, options.reply), { system: options.system });
    this.tokenizer = tokenizer;
    this.imageTokens = imageTokens;
  }

  preprocess(..._args: unknown[]): Promise<never> { return NEEDS_MODEL('preprocess'); }
  encodeImages(..._args: unknown[]): Promise<never> { return NEEDS_MODEL('encodeImages'); }
  /** Synchronous like Vlac.createSequence, so it throws instead of rejecting. */
  createSequence(..._args: unknown[]): never { throw needsModel('createSequence'); }

  async dispose(): Promise<void> {}
  async [Symbol.asyncDispose](): Promise<void> {}
}

export async function scriptedVlac(modelDir: string, options: ScriptedOptions): Promise<ScriptedVlac> {
  if (typeof modelDir !== 'string' || modelDir.length === 0) throw badArgument('scriptedVlac: modelDir must be a non-empty string');
  if (options === null || typeof options !== 'object' || typeof options.reply !== 'function') {
    throw badArgument('scriptedVlac: options.reply must be a function (request) => { text, tokens? }');
  }
  if (options.system !== undefined && typeof options.system !== 'string') throw badArgument('scriptedVlac: system must be a string');
  const imageTokens = imageTokensFromConfig(readConfig(modelDir), join(modelDir, 'config.json'));
  const tokenizer = await Tokenizer.load(modelDir);
  return new ScriptedVlac(tokenizer, imageTokens, options);
}

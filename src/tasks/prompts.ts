// The ONE prompt renderer. Builds the official VLAC user texts (vlac-behavior.md §3, §8, §10) and
// renders them in ms-swift's `internvl2` chat layout (§2): BOS, the ChatML system block, the user
// turn with every `<image>` replaced by `<img>` + N x `<IMG_CONTEXT>` + `</img>\n`, and the open
// assistant turn. The strings below are the official templates, quoted exactly.
import { badArgument } from '../errors.js';
import { pyFloorDiv, pyMod, pyRound, pyStr } from './pynum.js';
import type { PromptKind, RenderedPrompt, TokenizerLike } from './types.js';

export const VLAC_SYSTEM_PROMPT =
  'You are a visual-language assistant designed to interpret spatial and task-related information from images and text. Provide precise, context-aware responses and actionable guidance to assist in achieving task objectives.';

// §3.1 (as GAC_model.__init__ overwrites them): `v3` has no reference; `v3_think` is the reference
// tail, which shows the trajectory's first frame before the pair.
const CRITIC_V3 =
  'Image-1: <image>\nImage-2: <image>\nCompare two images and evaluate whether the second image is closer to achieving task objectives compared to the first image. + score means the second image is closer, - score means the first image is closer\nResponse the relative progressing of target task follow <score>. The target task is: <task> {} </task> <score>';
const CRITIC_V3_REFERENCE =
  '0% <image>\nThis image is the trajectory beginning of the following two images\nImage-1: <image>\nImage-2: <image>\nCompare two images and evaluate whether the second image is closer to achieving task objectives compared to the first image. + score means the second image is closer, - score means the first image is closer\nResponse the relative progressing of target task follow <score>. The target task is: <task> {} </task> <score>';
export const THINK_SUFFIX = ' Please give reasoning process enclosed within <think> reasoning process here </think>.';

// §8
const TASK_DONE = 'The 1 means yes, the 0 means no. Check if the robot has completed its task: <task> {} </task> <done>';
const CONTEXT_TASK_DONE =
  '<goal> <task> {} </task>: <image>\n<goal>\n<image>\n The 1 means yes, the 0 means no. Refer to the goal, check if the robot has completed its task: <task> {} </task> <done>';
const IMAGE_DONE =
  '<goal> <image>\n<goal>\n<image>\n The 1 means yes, the 0 means no. Check if the robot has completed its image goal <done>';

// §10.1
const VIEW_PREFIX: Record<number, string> = {
  1: '<image>\n',
  2: 'Image-1: <image>\nImage-2: <image>\n',
  3: 'Image-1: <image>\nImage-2: <image>\nImage-3: <image>\n',
};
const TASK_ACTION =
  "The current position state of the robotic arm's end gripper in the image is as follows: <state> {} </state>. What action should the robot take to get better completion of instruction: <task> {} </task> <action>";
const TASK_ACTION_SIMPLE =
  "The current position state of the robotic arm's end gripper in the image is as follows: <state> {} </state>. What action should the robot take to get better completion of instruction: <task> {} </task> <(action)>";
const TASK_POSITION =
  "The current position state of the robotic arm's end gripper in the image is as follows: <position> {} </position>. What position should the robot take to get better completion of instruction: <task> {} </task> <position>";
const TASK_POSITION_SIMPLE =
  "The current position state of the robotic arm's end gripper in the image is as follows: <(position)> {} </(position)>. What position should the robot take to get better completion of instruction: <task> {} </task> <(position)>";
const TASK_ACTION_SCORE =
  "The current position state of the robotic arm's end gripper in the image is as follows: <state> {} </state>. The action robot take now: <action> {} </action>. Please rate score of the action for achieving task: <task> {} </task> <score>";
const ACTION_INVERSE = 'Image-1: <image>\nImage-2: <image>\nCompare two images and infer what action between them. <infer> <action>';
const TASK_VQA = 'Image-1: <image>\nImage-2: <image>\nCompare two images and infer what kind of task is achieving. <infer> <task>';

// §10.2 songling formatters
const ARM_V2 = '{{x: {}mm, y: {}mm, z: {}mm, roll: {} degrees, pitch: {} degrees, yaw: {} degrees, open: {}}}';
const ARMS_V2 =
  '\nleft: <action> {{x: {}mm, y: {}mm, z: {}mm, roll: {} degrees, pitch: {} degrees, yaw: {} degrees, open: {}}} </action> \nright: <action> {{x: {}mm, y: {}mm, z: {}mm, roll: {} degrees, pitch: {} degrees, yaw: {} degrees, open: {}}} </action>';
const ARM_SIMPLE = '({} {} {} {} {} {} {})';
const ARMS_SIMPLE =
  '\nleft: <(action)> ({} {} {} {} {} {} {}) </(action)> \nright: <(action)> ({}, {}, {}, {}, {}, {}, {}) </(action)>';
const STATE_TYPE_V2 = 'End-Effector with units in mm and degrees';
const STATE_TYPE_SIMPLE = 'End-Effector hide units in mm and degrees within () format';

const IMAGE_TAG = '<image>';

/** Python `str.format` with positional `{}` slots; `{{`/`}}` are literal braces. */
export function pyFormat(template: string, ...values: string[]): string {
  let out = '';
  let next = 0;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    const d = template[i + 1];
    if (c === '{' && d === '{') { out += '{'; i++; }
    else if (c === '}' && d === '}') { out += '}'; i++; }
    else if (c === '{' && d === '}') {
      if (next >= values.length) throw new Error(`template needs more than ${values.length} values`);
      out += values[next++];
      i++;
    } else out += c;
  }
  return out;
}

/** §3.2: the percentage label of reference frame i of n, trunc((i / (n-1)) * 100) in doubles. */
export function referencePercent(i: number, n: number): number {
  return Math.trunc((i / (n - 1)) * 100);
}

/** §3.2 `get_score_prompt(task, trajectory_len, think)`: 0 = no reference, else n >= 2 frames. */
export function criticQuery(task: string, refNum: number, think: boolean): string {
  let q: string;
  if (refNum === 0) {
    q = pyFormat(CRITIC_V3, task);
  } else {
    let traj = `<trajectory> <task> ${task} </task>:`;
    for (let i = 0; i < refNum; i++) traj += ` ${referencePercent(i, refNum)}% <image>\n`;
    traj += '</trajectory>';
    q = traj + pyFormat(CRITIC_V3_REFERENCE, task);
  }
  return think ? q + THINK_SUFFIX : q;
}

export function doneQuery(task: string): string {
  return pyFormat(TASK_DONE, task);
}

export function goalDoneQuery(task: string | null): string {
  return task ? pyFormat(CONTEXT_TASK_DONE, task, task) : IMAGE_DONE;
}

/** §8.3: in-context done is the reference critic prompt with the think suffix. */
export function inContextDoneQuery(task: string, refNum: number): string {
  return criticQuery(task, refNum, true);
}

export function describeQuery(): string {
  return TASK_VQA;
}

export function actionInverseQuery(): string {
  return ACTION_INVERSE;
}

/**
 * §10.2 `format_state`: raw end-effector readings (x, y, z in 0.001 mm; roll, pitch, yaw in
 * 0.001 deg; gripper) to prompt units, floor division as the official inference (Q17). 14 values
 * are two arms.
 */
export function formatState(raw: readonly number[], gripperFormat = false): number[] {
  const out: number[] = [];
  for (let arm = 0; arm < raw.length; arm += 7) {
    for (let k = 0; k < 6; k++) out.push(pyFloorDiv(raw[arm + k]!, 1000));
    const g = raw[arm + 6]!;
    out.push(gripperFormat ? pyRound(pyFloorDiv(g, 10000) / 7, 1) : pyFloorDiv(g, 1000));
  }
  return out;
}

// Angles 3-5 of each arm into [-180, 180] when beyond it (a copy: Q17 says not to mutate input).
function normalizeAngles(arm: number[]): number[] {
  return arm.map((a, k) => (k >= 3 && k <= 5 && Math.abs(a) > 180 ? pyMod(a + 180, 360) - 180 : a));
}

/**
 * §10.2 `format_songling_v2` / `format_songling_simple`. `undefined` is the official `state='type'`
 * default (the units sentence); `null` renders "None". `positionTags` is the formatter's own
 * `state=True` (no angle normalisation, `<position>` tags for two arms).
 */
export function formatSongling(v: readonly number[] | null | undefined, opts: { simple: boolean; positionTags: boolean }): string {
  if (v === null) return 'None';
  if (v === undefined) return opts.simple ? STATE_TYPE_SIMPLE : STATE_TYPE_V2;
  const arms: number[][] = [];
  for (let i = 0; i < v.length; i += 7) arms.push(v.slice(i, i + 7));
  const prepared = opts.positionTags ? arms : arms.map(normalizeAngles);
  const values = prepared.flat().map(pyStr);
  if (arms.length === 1 && v.length === 7) return pyFormat(opts.simple ? ARM_SIMPLE : ARM_V2, ...values);
  if (arms.length === 2 && v.length === 14) {
    let two = opts.simple ? ARMS_SIMPLE : ARMS_V2;
    if (opts.positionTags) {
      two = opts.simple ? two.replaceAll('(action)>', '(position)>') : two.replaceAll('action>', 'position>');
    }
    return pyFormat(two, ...values);
  }
  return 'None';
}

export interface ActionQueryArgs {
  task: string;
  views: number;
  state?: readonly number[];
  position?: boolean;
  simple?: boolean;
  think?: boolean;
  outputNum?: number;
  gripperFormat?: boolean;
}

/** §10.1 `get_action_prompt`: the view prefix, the template, `*n`, the think suffix. */
export function actionQuery(a: ActionQueryArgs): string {
  const position = a.position ?? false;
  const simple = a.simple ?? false;
  const template = simple ? (position ? TASK_POSITION_SIMPLE : TASK_ACTION_SIMPLE) : position ? TASK_POSITION : TASK_ACTION;
  const state = a.state === undefined ? undefined : formatState(a.state, a.gripperFormat ?? false);
  let q = VIEW_PREFIX[a.views]! + pyFormat(template, formatSongling(state, { simple, positionTags: position }), a.task);
  const outputNum = a.outputNum ?? 1;
  if (outputNum > 1) q += `*${outputNum}`;
  if (a.think) q += THINK_SUFFIX;
  return q;
}

/** §10.1 `get_action_score_prompt`: state and action go to the formatter as given. */
export function actionScoreQuery(task: string, state: readonly number[], action: readonly number[]): string {
  const fmt = (v: readonly number[]) => formatSongling(v, { simple: false, positionTags: false });
  return pyFormat(TASK_ACTION_SCORE, fmt(state), fmt(action), task);
}

/**
 * §2.2-§2.4: renders one request. Tags beyond the image count stay literal text; missing tags are
 * prepended (no newline), as swift does. The ids are BOS, then each text run tokenized on its own
 * with the image token runs spliced in: every run starts and ends on an added token (`<img>`,
 * `</img>`, `<|im_...|>`), where the tokenizer splits anyway, so this equals tokenizing the whole text.
 */
export function renderChat(
  tokenizer: TokenizerLike,
  imageTokens: number,
  query: string,
  images: number,
  system: string = VLAC_SYSTEM_PROMPT,
): RenderedPrompt {
  const tags = query.split(IMAGE_TAG).length - 1;
  const user = tags < images ? IMAGE_TAG.repeat(images - tags) + query : query;
  const pieces = user.split(IMAGE_TAG);
  // pieces[k] precedes image k for k < images; the rest rejoin with their literal tags.
  const texts = pieces.slice(0, images);
  texts.push(pieces.slice(images).join(IMAGE_TAG));

  const sp = tokenizer.special;
  const head = `<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\n`;
  const tail = '<|im_end|>\n<|im_start|>assistant\n';
  const body = `{${imageTokens} x <IMG_CONTEXT>}`;

  const ids: number[] = [sp.bos];
  let text = '';
  for (let k = 0; k <= images; k++) {
    let segment = k === 0 ? head : '</img>\n';
    segment += texts[k];
    if (k < images) segment += '<img>';
    else segment += tail;
    for (const id of tokenizer.encode(segment, { bos: false })) ids.push(id);
    text += segment;
    if (k < images) {
      for (let t = 0; t < imageTokens; t++) ids.push(sp.imgContext);
      text += body;
    }
  }
  return { ids: Int32Array.from(ids), text, imageSlots: images, query };
}

// ---- renderPrompt(kind, args): the public face of the renderer (api.md §5) ----

type Args = Record<string, unknown>;

function str(args: Args, name: string, kind: string): string {
  const v = args[name];
  if (typeof v !== 'string' || v.length === 0) throw badArgument(`renderPrompt('${kind}'): ${name} must be a non-empty string`);
  return v;
}
function bool(args: Args, name: string, kind: string, dflt: boolean): boolean {
  const v = args[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw badArgument(`renderPrompt('${kind}'): ${name} must be a boolean`);
  return v;
}
function int(args: Args, name: string, kind: string, dflt: number, min: number, max: number): number {
  const v = args[name] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw badArgument(`renderPrompt('${kind}'): ${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}
function vec(args: Args, name: string, kind: string, required: boolean, lengths: number[]): number[] | undefined {
  const v = args[name];
  if (v === undefined && !required) return undefined;
  if (!Array.isArray(v) || !lengths.includes(v.length) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw badArgument(`renderPrompt('${kind}'): ${name} must be an array of ${lengths.join(' or ')} finite numbers`);
  }
  return v as number[];
}

/** Builds the user text and image count of a prompt kind (validating its arguments). */
export function buildQuery(kind: PromptKind, args: Args): { query: string; images: number; system?: string } {
  switch (kind) {
    case 'pair': {
      const refNum = int(args, 'refNum', kind, 0, 0, 1_000_000);
      if (refNum === 1) throw badArgument(`renderPrompt('pair'): refNum must be 0 (no reference) or at least 2`);
      return { query: criticQuery(str(args, 'task', kind), refNum, bool(args, 'think', kind, false)), images: refNum === 0 ? 2 : refNum + 3 };
    }
    case 'done':
      return { query: doneQuery(str(args, 'task', kind)), images: 1 };
    case 'done-goal': {
      const task = args.task === null || args.task === undefined ? null : str(args, 'task', kind);
      return { query: goalDoneQuery(task), images: 2 };
    }
    case 'done-in-context': {
      const refNum = int(args, 'refNum', kind, 6, 2, 1_000_000);
      return { query: inContextDoneQuery(str(args, 'task', kind), refNum), images: refNum + 3 };
    }
    case 'describe':
      return { query: describeQuery(), images: 2 };
    case 'action-inverse':
      return { query: actionInverseQuery(), images: 2 };
    case 'action': {
      const views = int(args, 'views', kind, 1, 1, 3);
      return {
        query: actionQuery({
          task: str(args, 'task', kind),
          views,
          state: vec(args, 'state', kind, false, [7, 14]),
          position: bool(args, 'position', kind, false),
          simple: bool(args, 'simple', kind, false),
          think: bool(args, 'think', kind, false),
          outputNum: int(args, 'outputNum', kind, 1, 1, 1_000_000),
          gripperFormat: bool(args, 'gripperFormat', kind, false),
        }),
        images: views,
      };
    }
    case 'action-score':
      return {
        query: actionScoreQuery(str(args, 'task', kind), vec(args, 'state', kind, true, [7, 14])!, vec(args, 'action', kind, true, [7, 14])!),
        images: 1,
      };
    case 'chat': {
      const prompt = args.prompt;
      if (typeof prompt !== 'string') throw badArgument(`renderPrompt('chat'): prompt must be a string`);
      const system = args.system;
      if (system !== undefined && typeof system !== 'string') throw badArgument(`renderPrompt('chat'): system must be a string`);
      return { query: prompt, images: int(args, 'images', kind, 0, 0, 1_000_000), system: system as string | undefined };
    }
    default:
      throw badArgument(
        `renderPrompt: unknown kind ${JSON.stringify(kind)} (expected one of pair, done, done-goal, done-in-context, describe, action, action-score, action-inverse, chat)`,
      );
  }
}

export function renderPrompt(tokenizer: TokenizerLike, imageTokens: number, kind: PromptKind, args: Args = {}): RenderedPrompt {
  if (args === null || typeof args !== 'object') throw badArgument('renderPrompt: args must be an object');
  const { query, images, system } = buildQuery(kind, args);
  return renderChat(tokenizer, imageTokens, query, images, system);
}

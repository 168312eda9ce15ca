// The VLAC task layer: prompts, parsing, rich mode, values, trajectories, over any TaskBackend.
export { VlacTasks, interpretCritic, interpretDone, interpretInContextDone } from './vlac-tasks.js';
export type { VlacTasksOptions } from './vlac-tasks.js';
export {
  VLAC_SYSTEM_PROMPT, THINK_SUFFIX, actionInverseQuery, actionQuery, actionScoreQuery, buildQuery, criticQuery,
  describeQuery, doneQuery, formatSongling, formatState, goalDoneQuery, inContextDoneQuery, pyFormat, referencePercent,
  renderChat, renderPrompt,
} from './prompts.js';
export { parseAction, parsePlain, parseThink } from './parse.js';
export { richText, stopIds } from './rich.js';
export { criticToValue, dataQuality, negativeRate, nextValue, postProcess, voc } from './value.js';
export { chunk, criticPairs, doneFrames, inContextDoneBatches, selectReference } from './trajectory.js';
export { framesFromVideo, frameInterval } from './video.js';
export { parsePyFloat, pyFormatFixed, pyIsDigit, pyStr } from './pynum.js';
export type * from './types.js';

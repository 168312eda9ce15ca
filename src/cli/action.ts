import { COMMON_FLAGS, MODEL_FLAGS, intFlag, listFlag, parse, requireFlag, type CommandSpec } from './args.js';
import { loadModel, print } from './load.js';
import { VlacError } from '../errors.js';

export const spec: CommandSpec = {
  name: 'action',
  summary: 'decode an action from 1-3 camera views (and the end-effector state)',
  usage: 'vlac action --model DIR --task T IMG... [--state x,y,z,roll,pitch,yaw,gripper] [--position] [--simple] [--think]',
  flags: {
    ...MODEL_FLAGS,
    task: { type: 'string', arg: 'T', help: 'the task' },
    state: { type: 'string', arg: 'V', help: 'raw eef state, comma-separated (7 or 14 numbers)' },
    position: { type: 'boolean', help: 'the position prompt variant' },
    simple: { type: 'boolean', help: 'the simple prompt variant' },
    think: { type: 'boolean', help: 'reasoned reply' },
    ...COMMON_FLAGS,
  },
  examples: ['vlac action --model /models/VLAC --task "Pick up the cup." front.jpg wrist.jpg --state 1200,-300,4500,0,90000,0,1'],
};

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  const model = requireFlag(p, 'model', spec);
  const task = requireFlag(p, 'task', spec);
  if (p.positionals.length < 1 || p.positionals.length > 3) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac action: give 1 to 3 camera views');
  const state = listFlag(p, 'state').map(Number);
  if (state.some((v) => !Number.isFinite(v))) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', '--state must be comma-separated numbers');
  const vlac = await loadModel(p, model);
  try {
    const r = await vlac.action({
      task, images: p.positionals, ...(state.length ? { state } : {}),
      position: p.values.position === true, simple: p.values.simple === true, think: p.values.think === true,
      ...(intFlag(p, 'max-tokens') !== undefined ? { maxTokens: intFlag(p, 'max-tokens') } : {}),
    });
    print(p, r, () => `action: ${r.action ? r.action.join(', ') : 'unparsable'}\nreply:  ${JSON.stringify(r.text)}`);
  } finally {
    await vlac.dispose();
  }
}

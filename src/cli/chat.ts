import { COMMON_FLAGS, MODEL_FLAGS, intFlag, listFlag, numFlag, parse, requireFlag, type CommandSpec } from './args.js';
import { loadModel, print } from './load.js';
import { VlacError } from '../errors.js';

export const spec: CommandSpec = {
  name: 'chat',
  summary: 'free generation / VQA with the VLAC chat layout',
  usage: 'vlac chat --model DIR [--image F]... PROMPT',
  flags: {
    ...MODEL_FLAGS,
    image: { type: 'string', multiple: true, arg: 'F', help: 'an image, placed where the prompt says <image> (else first)' },
    temperature: { type: 'string', arg: 'T', help: 'sampling temperature (default 0: greedy)' },
    seed: { type: 'string', arg: 'S', help: 'sampling seed' },
    ...COMMON_FLAGS,
  },
  examples: ['vlac chat --model /models/VLAC --image scene.jpg "What is on the table?"'],
};

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  const model = requireFlag(p, 'model', spec);
  if (p.positionals.length !== 1) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac chat: give the prompt as one argument');
  const vlac = await loadModel(p, model);
  try {
    const images = listFlag(p, 'image');
    const r = await vlac.generate({
      prompt: p.positionals[0], images,
      maxTokens: intFlag(p, 'max-tokens', 256)!,
      ...(numFlag(p, 'temperature') !== undefined ? { temperature: numFlag(p, 'temperature') } : {}),
      ...(intFlag(p, 'seed') !== undefined ? { seed: intFlag(p, 'seed') } : {}),
    });
    print(p, r, () => r.text);
  } finally {
    await vlac.dispose();
  }
}

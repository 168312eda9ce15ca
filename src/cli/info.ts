import { COMMON_FLAGS, MODEL_FLAGS, parse, strFlag, type CommandSpec } from './args.js';
import { loadModel, print } from './load.js';
import { loadNative, nativeBinaryPath } from '../native.js';
import { VERSION } from '../version.js';

export const spec: CommandSpec = {
  name: 'info',
  summary: 'binary, CPU features, CUDA status and (with --model) a model summary',
  usage: 'vlac info [--model DIR] [--json]',
  flags: { model: MODEL_FLAGS.model, device: MODEL_FLAGS.device, threads: MODEL_FLAGS.threads, ...COMMON_FLAGS },
  examples: ['vlac info', 'vlac info --model /models/VLAC --json'],
};

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  const modelDir = strFlag(p, 'model');
  if (modelDir) {
    const vlac = await loadModel(p, modelDir);
    const info = vlac.info;
    await vlac.dispose();
    print(p, info, () => [
      `vlac-engine ${info.version}`,
      `binary:   ${info.binary}`,
      `backend:  ${info.backend} (${info.threads} threads; ${info.cpuFeatures.join(' ')})`,
      `cuda:     ${info.cuda.available ? `${info.cuda.name}` : `unavailable: ${info.cuda.reason}`}`,
      `model:    ViT ${info.model.visionLayers} layers x ${info.model.visionHidden}, LLM ${info.model.llmLayers} layers x ${info.model.hidden}, ` +
        `vocab ${info.model.vocab}, ${info.model.imageTokens} tokens per image, stored ${info.model.storedDtype}`,
      `weights:  ${info.weights}, ${(info.memory.weightsBytes / 2 ** 20).toFixed(1)} MiB`,
      `unused tensors: ${info.unusedTensors.length}`,
    ].join('\n'));
    return;
  }
  const addon = loadNative() as unknown as { cpuInfo(): { features: string[]; threads: number } };
  const cpu = addon.cpuInfo();
  const info = {
    version: VERSION, binary: nativeBinaryPath(), cpuFeatures: cpu.features, threads: cpu.threads,
    cuda: { available: false, reason: 'this build of vlac-engine has no CUDA backend' },
  };
  print(p, info, () => [
    `vlac-engine ${info.version}`,
    `binary:   ${info.binary}`,
    `cpu:      ${info.threads} threads; ${info.cpuFeatures.join(' ')}`,
    `cuda:     unavailable: ${info.cuda.reason}`,
  ].join('\n'));
}

// `vlac quantize IN OUT`: writes a pre-quantized int8 checkpoint (docs/int8.md) that loads with
// weights 'int8' without re-quantizing; the engine's writer (model/quantize_checkpoint.h) on its own
// thread, with a progress bar.
import { COMMON_FLAGS, parse, type CommandSpec } from './args.js';
import { print } from './load.js';
import { VlacError } from '../errors.js';
import { loadNative } from '../native.js';
import { Progress } from './progress.js';

export const spec: CommandSpec = {
  name: 'quantize',
  summary: 'write a pre-quantized int8 checkpoint (int8 Linears + per-channel scales) of a bf16 one',
  usage: 'vlac quantize IN OUT [--keep-lm-head-bf16] [--json]',
  flags: {
    'keep-lm-head-bf16': { type: 'boolean', help: 'leave the LM head bf16 (default: int8 like every other Linear)' },
    ...COMMON_FLAGS,
  },
  examples: ['vlac quantize /models/VLAC /models/VLAC-int8', 'vlac quantize /models/VLAC /models/VLAC-int8 --keep-lm-head-bf16'],
};

interface QuantizeAddon {
  quantizeCheckpoint?: (inDir: string, outDir: string, options: object) =>
    Promise<{ quantized: number; bytes: number; seconds: number }>;
}

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  if (p.positionals.length !== 2) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac quantize: give the IN and OUT folders');
  const [inDir, outDir] = p.positionals;
  const addon = loadNative() as unknown as QuantizeAddon;
  if (!addon.quantizeCheckpoint) throw new VlacError('ERR_VLAC_INTERNAL', 'internal error (please report): this binary has no quantizer');
  const progress = new Progress('quantize');
  let report;
  try {
    report = await addon.quantizeCheckpoint(inDir, outDir, {
      quantizeLmHead: p.values['keep-lm-head-bf16'] !== true,
      onProgress: (done: number, total: number) => progress.update(done, total),
    });
  } catch (err) {
    throw VlacError.from(err);
  }
  progress.finish();
  print(p, { out: outDir, ...report }, () =>
    `wrote ${outDir}: ${report.quantized} int8 Linears, ${(report.bytes / 2 ** 20).toFixed(1)} MiB, in ${report.seconds.toFixed(1)} s`);
}

// Loading a model from the common flags (--model, --device, --weights, --precision, --threads).
import { Vlac, type LoadOptions } from '../vlac.js';
import { intFlag, strFlag, type Parsed } from './args.js';

export async function loadModel(p: Parsed, modelDir: string): Promise<Vlac> {
  const opts: LoadOptions = {};
  const device = strFlag(p, 'device');
  if (device) opts.device = device as LoadOptions['device'];
  const weights = strFlag(p, 'weights');
  if (weights) opts.weights = weights as LoadOptions['weights'];
  const precision = strFlag(p, 'precision');
  if (precision) opts.precision = precision as LoadOptions['precision'];
  const threads = intFlag(p, 'threads');
  if (threads !== undefined) opts.threads = threads;
  return Vlac.load(modelDir, opts);
}

export function print(p: Parsed, result: unknown, human: () => string): void {
  if (p.values.json) process.stdout.write(`${JSON.stringify(result, jsonReplacer, 2)}\n`);
  else process.stdout.write(`${human()}\n`);
}

// Typed arrays print as plain arrays in --json output.
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  return value;
}

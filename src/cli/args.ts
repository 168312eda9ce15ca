// Command-line parsing shared by every command: kebab-case flags (api.md §8) parsed with
// node:util's parseArgs, a --help text per command, and errors that say which flag is wrong.
import { parseArgs } from 'node:util';
import { VlacError } from '../errors.js';

export interface Flag {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** One line for --help; `arg` names the value. */
  help: string;
  arg?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, Flag>;
  examples: string[];
}

export const COMMON_FLAGS: Record<string, Flag> = {
  json: { type: 'boolean', help: 'print the result as JSON on stdout' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export const MODEL_FLAGS: Record<string, Flag> = {
  model: { type: 'string', arg: 'DIR', help: 'the VLAC / InternVL2 checkpoint folder' },
  device: { type: 'string', arg: 'D', help: "auto | cpu | cuda | cuda:N (default auto)" },
  weights: { type: 'string', arg: 'W', help: 'auto | bf16 | int8 (default auto)' },
  precision: { type: 'string', arg: 'P', help: 'fp32 | bf16: activations of the ViT/prefill products (default fp32)' },
  threads: { type: 'string', arg: 'N', help: 'CPU threads (default: physical cores)' },
  'max-tokens': { type: 'string', arg: 'N', help: 'reply length limit (default 1024)' },
};

export function helpText(spec: CommandSpec): string {
  const lines = [`vlac ${spec.name}: ${spec.summary}`, '', `Usage: ${spec.usage}`, '', 'Options:'];
  for (const [name, f] of Object.entries(spec.flags)) {
    const left = `  ${f.short ? `-${f.short}, ` : ''}--${name}${f.arg ? ` ${f.arg}` : ''}`;
    lines.push(`${left.padEnd(30)} ${f.help}`);
  }
  if (spec.examples.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parse(spec: CommandSpec, argv: string[]): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type };
    if (f.multiple) options[name].multiple = true;
    if (f.short) options[name].short = f.short;
  }
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (err) {
    throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `vlac ${spec.name}: ${(err as Error).message} (see vlac ${spec.name} --help)`);
  }
}

export function intFlag(p: Parsed, name: string, fallback?: number): number | undefined {
  const v = p.values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n)) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `--${name} must be an integer, got ${String(v)}`);
  return n;
}

export function numFlag(p: Parsed, name: string, fallback?: number): number | undefined {
  const v = p.values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n)) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `--${name} must be a number, got ${String(v)}`);
  return n;
}

export function strFlag(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function requireFlag(p: Parsed, name: string, spec: CommandSpec): string {
  const v = strFlag(p, name);
  if (!v) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `vlac ${spec.name}: --${name} is required (see vlac ${spec.name} --help)`);
  return v;
}

export function listFlag(p: Parsed, name: string): string[] {
  const v = p.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [String(v)]).flatMap((s) => s.split(',')).filter((s) => s.length > 0);
}

#!/usr/bin/env node
// The `vlac` command (api.md §8): one file per command, each a thin user of the public API.
import { VlacError } from '../errors.js';
import { helpText, type CommandSpec } from './args.js';
import * as action from './action.js';
import * as bench from './bench.js';
import * as chat from './chat.js';
import * as critic from './critic.js';
import * as demo from './demo.js';
import * as describe from './describe.js';
import * as done from './done.js';
import * as info from './info.js';
import * as pair from './pair.js';
import * as quantize from './quantize.js';

interface Command { spec: CommandSpec; run(argv: string[]): Promise<void> }

const COMMANDS: Command[] = [demo, critic, pair, done, action, describe, chat, info, bench, quantize];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length));
  return [
    'vlac: the VLAC robot critic, natively',
    '',
    'Usage: vlac <command> [options]     (vlac <command> --help for its options)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`),
    '',
    'Examples:',
    '  vlac pair --model /models/VLAC --task "Pick up the cup." before.jpg after.jpg',
    '  vlac critic --model /models/VLAC --task "Open the drawer." --frames ./episode --out ./report',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 1;
  }
  const cmd = COMMANDS.find((c) => c.spec.name === name);
  if (!cmd) {
    process.stderr.write(`vlac: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${helpText(cmd.spec)}\n`);
    return 0;
  }
  try {
    await cmd.run(rest);
    return 0;
  } catch (err) {
    const e = VlacError.from(err);
    process.stderr.write(`vlac ${name}: ${e.code}: ${e.message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));

// A progress bar on stderr, drawn only when stderr is a terminal (api.md §8).
export class Progress {
  readonly #label: string;
  readonly #tty = process.stderr.isTTY === true;
  readonly #started = Date.now();
  #last = 0;

  constructor(label: string) {
    this.#label = label;
  }

  update(done: number, total: number): void {
    if (!this.#tty) return;
    const now = Date.now();
    if (done < total && now - this.#last < 100) return;
    this.#last = now;
    const width = 30;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const secs = ((now - this.#started) / 1000).toFixed(1);
    process.stderr.write(`\r${this.#label} [${bar}] ${done}/${total} ${secs}s`);
  }

  finish(): void {
    if (this.#tty) process.stderr.write('\n');
  }
}

export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

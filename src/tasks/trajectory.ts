// Trajectory bookkeeping of the official get_trajectory_critic / get_trajectory_done
// (vlac-behavior.md §3.4, §7.2, §8.3): which frames pair up, which reference frames are shown,
// and how requests are grouped into batched model calls.

/**
 * §3.4: R[0] = ref[0], R[i] = ref[trunc(i * d)] with d = (L-1)/(n-1) in doubles (the double
 * rounding of Q6 included; a reference shorter than n repeats frames, Q5).
 */
export function selectReference<T>(reference: readonly T[], n: number): T[] {
  const d = (reference.length - 1) / (n - 1);
  const out: T[] = [reference[0]!];
  for (let i = 1; i < n; i++) out.push(reference[Math.trunc(i * d)]!);
  return out;
}

/**
 * §7.2: the scored pairs (i - s, i) for targets range(s, L, s) under frameSkip (trailing frames
 * after the last multiple of s are not scored, Q12), else range(s, L).
 */
export function criticPairs(frames: number, skip: number, frameSkip: boolean): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = skip; i < frames; i += frameSkip ? skip : 1) pairs.push([i - skip, i]);
  return pairs;
}

/** The official flush rule "pending reaches batch_num, or pending + done = total": chunks of batchSize. */
export function chunk<T>(items: readonly T[], batchSize: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += batchSize) out.push(items.slice(i, i + batchSize));
  return out;
}

/**
 * §8.3: in-context done queries for frames 1..L-1 flush when (i + 1) % batch_num = 0, so the first
 * call holds batch_num - 1 requests; what is left goes in a last call. Returns the frame indices
 * of each call.
 */
export function inContextDoneBatches(frames: number, batchSize: number): number[][] {
  const out: number[][] = [];
  let pending: number[] = [];
  for (let i = 1; i < frames; i++) {
    pending.push(i);
    if ((i + 1) % batchSize === 0) {
      out.push(pending);
      pending = [];
    }
  }
  if (pending.length > 0) out.push(pending);
  return out;
}

/** The frames a done list covers in trajectoryCritic: 0, s, 2s, ... under frameSkip, else all. */
export function doneFrames(frames: number, skip: number, frameSkip: boolean): number[] {
  const out: number[] = [];
  for (let j = 0; j < frames; j += frameSkip ? skip : 1) out.push(j);
  return out;
}

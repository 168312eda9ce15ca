// The value curve of a trajectory critic as an SVG (and a PNG rendered from it by sharp), where
// a person would look at it.
import sharp from 'sharp';

export function valueCurveSvg(values: number[], critic: (number | null)[], title: string): string {
  const W = 800, H = 400, L = 60, R = 20, T = 40, B = 50;
  const n = Math.max(values.length, 2);
  const x = (i: number) => L + (i / (n - 1)) * (W - L - R);
  const vmin = Math.min(0, ...values), vmax = Math.max(100, ...values);
  const y = (v: number) => T + (1 - (v - vmin) / (vmax - vmin || 1)) * (H - T - B);
  const path = values.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const bars = critic.map((c, i) => {
    if (c === null) return `<circle cx="${x(i + 0.5).toFixed(1)}" cy="${y(0).toFixed(1)}" r="3" fill="#999"/>`;
    const y0 = y(0), y1 = y(c);
    return `<rect x="${(x(i + 0.5) - 3).toFixed(1)}" y="${Math.min(y0, y1).toFixed(1)}" width="6" height="${Math.abs(y1 - y0).toFixed(1)}" fill="${c >= 0 ? '#4caf50' : '#e53935'}" opacity="0.6"/>`;
  }).join('');
  const ticks = [vmin, (vmin + vmax) / 2, vmax].map((v) =>
    `<text x="${L - 8}" y="${y(v) + 4}" text-anchor="end" font-size="12">${v.toFixed(0)}</text>` +
    `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`).join('');
  const esc = title.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${ticks}${bars}` +
    `<path d="${path}" fill="none" stroke="#1e88e5" stroke-width="2.5"/>` +
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${esc}</text>` +
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="12">frame (value: line; pair critic: bars)</text>` +
    `</svg>`;
}

export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}

// ---- benchmark charts (vlac bench --out) -------------------------------------------------------

/** One scenario's figures in a benchmark report (docs/bench-schema.json). */
export interface ScenarioFigures {
  iterations: number;
  p50_ms: number; p90_ms: number; p99_ms: number; max_ms: number; mean_ms: number;
  samples_ms: number[];
  stages_ms: {
    image_decode: number | null; resize: number | null; encode: number; prefill: number; decode: number;
    parse: number | null; other: number;
  };
  floor_ms: number;
  end_to_end_mean_ms?: number;
}

interface ConfigurationFigures {
  label?: string;
  threads: number;
  scenarios?: Record<string, ScenarioFigures>;
}

/** The parts of a benchmark report the front end reads or completes. */
export interface BenchReport extends ConfigurationFigures {
  versions: { node: string | null; sharp: string | null; torch: string | null };
  binary: { package_version: string | null };
  settings: { scenarios: string[] };
  configurations?: (ConfigurationFigures & { label: string })[];
}

const escText = (t: string) => t.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

// Round tick positions covering [lo, hi]: steps of 1, 2 or 5 x 10^k, about `count` of them.
function niceTicks(lo: number, hi: number, count: number): { ticks: number[]; lo: number; hi: number; step: number } {
  if (!(hi > lo)) {
    const pad = Math.max(Math.abs(lo) * 0.05, 1e-3);
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const first = Math.floor(lo / step) * step, last = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { ticks, lo: first, hi: last, step };
}

// A tick value with as many decimals as its step needs.
const tickLabel = (v: number, step: number) => v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
// A measured value, to three significant digits or whole ms.
const msLabel = (v: number) => v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2);

// The configurations of a report (one for a single run), each with its scenarios.
function configurationsOf(r: BenchReport): { label: string; scenarios: Record<string, ScenarioFigures> }[] {
  if (r.configurations) return r.configurations.map((c) => ({ label: c.label, scenarios: c.scenarios ?? {} }));
  return [{ label: `${r.threads} thread${r.threads === 1 ? '' : 's'}`, scenarios: r.scenarios ?? {} }];
}

const SERIES = ['#1e88e5', '#fb8c00', '#43a047', '#8e24aa'];
const MARKS = ['#0d47a1', '#e65100', '#1b5e20', '#4a148c'];  // darker: the p50 lines over the bars

/**
 * Latency histogram: one panel per scenario with the timed runs of every configuration on shared
 * bins (side by side), the x axis in ms with round ticks, the y axis in runs, and each
 * configuration's p50 as a dashed line.
 */
export function histogramSvg(r: BenchReport): string {
  const configs = configurationsOf(r);
  const names = r.settings.scenarios.filter((n) => configs.every((c) => c.scenarios[n]));
  const PW = 460, PH = 250, cols = names.length > 1 ? 2 : 1, top = configs.length > 1 ? 34 : 10;
  const W = cols * PW, H = top + Math.ceil(names.length / cols) * PH;
  const legend = configs.length > 1 ? configs.map((c, i) => `<rect x="${20 + i * 200}" y="10" width="12" height="12" fill="${SERIES[i % SERIES.length]}"/>` +
    `<text x="${36 + i * 200}" y="20" font-size="12">${escText(c.label)}</text>`).join('') : '';
  const panels = names.map((name, i) => {
    const ox = (i % cols) * PW, oy = top + Math.floor(i / cols) * PH;
    const L = 52, R = 16, T = 28 + 12 * configs.length, B = 46, iw = PW - L - R, ih = PH - T - B;
    const all = configs.flatMap((c) => c.scenarios[name].samples_ms);
    const x = niceTicks(Math.min(...all), Math.max(...all), 5);
    const bins = Math.min(30, Math.max(10, Math.ceil(Math.sqrt(all.length)) * 2));
    const bw = (x.hi - x.lo) / bins;
    const counts = configs.map((c) => {
      const k = new Array<number>(bins).fill(0);
      for (const v of c.scenarios[name].samples_ms) k[Math.min(bins - 1, Math.max(0, Math.floor((v - x.lo) / bw)))]++;
      return k;
    });
    const y = niceTicks(0, Math.max(1, ...counts.flat()), 4);
    const yTicks = y.ticks.filter((t) => Number.isInteger(t));
    const px = (v: number) => ox + L + ((v - x.lo) / (x.hi - x.lo)) * iw;
    const py = (c: number) => oy + T + ih - (c / y.hi) * ih;
    // Every configuration's bars span their whole bin (overlaid, translucent when there are several),
    // so that a bar stands exactly over the latencies it counts.
    const opacity = configs.length > 1 ? 0.55 : 1;
    const bars = counts.map((k, ci) => k.map((c, b) => c === 0 ? '' :
      `<rect x="${(ox + L + (b * iw) / bins + 0.5).toFixed(1)}" y="${py(c).toFixed(1)}" width="${Math.max(1, iw / bins - 1).toFixed(1)}" height="${(oy + T + ih - py(c)).toFixed(1)}" fill="${SERIES[ci % SERIES.length]}" fill-opacity="${opacity}"/>`).join('')).join('');
    const p50s = configs.map((c, ci) => {
      const v = c.scenarios[name].p50_ms, X = px(v), color = MARKS[ci % MARKS.length];
      const right = X > ox + L + iw * 0.7;  // the label on the side with room
      return `<line x1="${X.toFixed(1)}" x2="${X.toFixed(1)}" y1="${oy + 26 + ci * 12}" y2="${oy + T + ih}" stroke="${color}" stroke-width="1.5" stroke-dasharray="4,3"/>` +
        `<text x="${(right ? X - 4 : X + 4).toFixed(1)}" y="${oy + 34 + ci * 12}" font-size="10" fill="${color}" text-anchor="${right ? 'end' : 'start'}">p50 ${msLabel(v)} ms</text>`;
    }).join('');
    const xAxis = x.ticks.map((t) => `<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${oy + T + ih}" y2="${oy + T + ih + 4}" stroke="#333"/>` +
      `<text x="${px(t).toFixed(1)}" y="${oy + T + ih + 16}" text-anchor="middle" font-size="10">${tickLabel(t, x.step)}</text>`).join('');
    const yAxis = yTicks.map((t) => `<line x1="${ox + L - 4}" x2="${ox + L + iw}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="${t === 0 ? '#333' : '#e0e0e0'}"/>` +
      `<text x="${ox + L - 7}" y="${(py(t) + 3.5).toFixed(1)}" text-anchor="end" font-size="10">${t}</text>`).join('');
    const runs = configs.map((c) => c.scenarios[name].samples_ms.length).join(' + ');
    return `<text x="${ox + L + iw / 2}" y="${oy + 18}" text-anchor="middle" font-size="13" font-weight="bold">${escText(name)} (${runs} timed runs)</text>` +
      `${yAxis}${bars}${p50s}${xAxis}` +
      `<line x1="${ox + L}" x2="${ox + L}" y1="${oy + T}" y2="${oy + T + ih}" stroke="#333"/>` +
      `<text x="${ox + L + iw / 2}" y="${oy + T + ih + 34}" text-anchor="middle" font-size="11">latency per run (ms)</text>` +
      `<text x="${ox + 14}" y="${oy + T + ih / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 ${ox + 14} ${oy + T + ih / 2})">runs</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${legend}${panels}</svg>`;
}

const STAGES = [
  ['image_decode', 'image decode', '#6d4c41'], ['resize', 'resize', '#fdd835'], ['encode', 'ViT', '#8e24aa'],
  ['prefill', 'prefill', '#1e88e5'], ['decode', 'decode', '#43a047'], ['parse', 'parse', '#00acc1'], ['other', 'other', '#9e9e9e'],
] as const;

/** Per-stage split of each scenario's mean (per configuration), as stacked bars, with the floor marked. */
export function stagesSvg(r: BenchReport): string {
  const configs = configurationsOf(r);
  const rows = r.settings.scenarios.flatMap((name) => configs.filter((c) => c.scenarios[name])
    .map((c) => ({ label: configs.length > 1 ? `${name} · ${c.label}` : name, s: c.scenarios[name] })));
  const total = (s: ScenarioFigures) => STAGES.reduce((a, [k]) => a + Math.max(0, s.stages_ms[k] ?? 0), 0);
  const W = 960, rowH = 30, L = 220, R = 110, T = 56, H = T + rows.length * rowH + 56;
  const x = niceTicks(0, Math.max(...rows.map(({ s }) => Math.max(total(s), s.floor_ms)), 1e-6), 5);
  const px = (v: number) => L + (v / x.hi) * (W - L - R);
  const bars = rows.map(({ label, s }, i) => {
    const y = T + i * rowH;
    let at = 0;
    const parts = STAGES.map(([k, , color]) => {
      const v = Math.max(0, s.stages_ms[k] ?? 0);
      const rect = v > 0 ? `<rect x="${px(at).toFixed(1)}" y="${y}" width="${(px(at + v) - px(at)).toFixed(2)}" height="20" fill="${color}"/>` : '';
      at += v;
      return rect;
    }).join('');
    return `<text x="${L - 8}" y="${y + 14}" text-anchor="end" font-size="12">${escText(label)}</text>${parts}` +
      `<line x1="${px(s.floor_ms).toFixed(1)}" x2="${px(s.floor_ms).toFixed(1)}" y1="${y - 3}" y2="${y + 23}" stroke="#e53935" stroke-width="2" stroke-dasharray="3,2"/>` +
      `<text x="${(px(at) + 5).toFixed(1)}" y="${y + 14}" font-size="11">${msLabel(at)} ms</text>`;
  }).join('');
  const axisY = T + rows.length * rowH;
  const ticks = x.ticks.map((t) => `<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${T - 6}" y2="${axisY + 4}" stroke="${t === 0 ? '#333' : '#eeeeee'}"/>` +
    `<text x="${px(t).toFixed(1)}" y="${axisY + 17}" text-anchor="middle" font-size="11">${tickLabel(t, x.step)}</text>`).join('');
  const legend = STAGES.map(([, name, color], i) => `<rect x="${40 + i * 120}" y="14" width="12" height="12" fill="${color}"/>` +
    `<text x="${40 + i * 120 + 16}" y="24" font-size="12">${name}</text>`).join('') +
    `<line x1="40" x2="60" y1="40" y2="40" stroke="#e53935" stroke-width="2" stroke-dasharray="3,2"/>` +
    `<text x="66" y="44" font-size="12">floor: max(FLOP / compute peak, bytes / memory peak)</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>` +
    `${ticks}${legend}${bars}<line x1="${L}" x2="${W - R}" y1="${axisY}" y2="${axisY}" stroke="#333"/>` +
    `<text x="${(L + W - R) / 2}" y="${H - 14}" text-anchor="middle" font-size="12">mean latency per call, by stage (ms)</text></svg>`;
}

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

/**
 * An RD curve as a standalone SVG: points joined in rate order, axes with round ticks, the knee
 * ringed and labelled. No dependencies; the output opens in any browser.
 */

export interface PlotPoint {
  x: number;
  y: number;
}

export interface PlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Index into `points` of the knee, or null. */
  knee?: number | null;
  kneeLabel?: string;
  width?: number;
  height?: number;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick positions covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function ticks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

export function renderRdSvg(points: readonly PlotPoint[], options: PlotOptions = {}): string {
  const W = options.width ?? 720;
  const H = options.height ?? 440;
  const m = { left: 72, right: 24, top: 48, bottom: 56 };
  const order = points.map((_, i) => i).sort((a, b) => points[a]!.x - points[b]!.x);
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  let y0 = Math.min(0, ...ys);
  let y1 = Math.max(...ys);
  if (!(x1 > x0)) {
    x0 -= 1;
    x1 += 1;
  }
  if (!(y1 > y0)) {
    y0 -= 1;
    y1 += 1;
  }
  const padY = (y1 - y0) * 0.05;
  y1 += padY;
  const sx = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const sy = (y: number): number => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const f = (v: number): string => v.toFixed(2);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (options.title) parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`);
  // Grid and ticks.
  for (const t of ticks(x0, x1)) {
    parts.push(`<line x1="${f(sx(t))}" y1="${m.top}" x2="${f(sx(t))}" y2="${H - m.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${f(sx(t))}" y="${H - m.bottom + 18}" text-anchor="middle" fill="#444">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.left}" y1="${f(sy(t))}" x2="${W - m.right}" y2="${f(sy(t))}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 8}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#444">${fmt(t)}</text>`);
  }
  parts.push(`<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 14}" text-anchor="middle">${escapeXml(options.xLabel ?? 'rate')}</text>`);
  parts.push(`<text transform="translate(18 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel ?? 'distortion')}</text>`);
  // Curve and points.
  if (order.length > 1) {
    parts.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${order.map((i) => `${f(sx(points[i]!.x))},${f(sy(points[i]!.y))}`).join(' ')}"/>`);
  }
  for (const i of order) parts.push(`<circle cx="${f(sx(points[i]!.x))}" cy="${f(sy(points[i]!.y))}" r="3.5" fill="#1f77b4"><title>${fmt(points[i]!.x)}, ${fmt(points[i]!.y)}</title></circle>`);
  const k = options.knee;
  if (k !== undefined && k !== null && points[k]) {
    const px = sx(points[k].x);
    const py = sy(points[k].y);
    parts.push(`<line x1="${f(px)}" y1="${m.top}" x2="${f(px)}" y2="${H - m.bottom}" stroke="#d62728" stroke-dasharray="5,4"/>`);
    parts.push(`<circle cx="${f(px)}" cy="${f(py)}" r="8" fill="none" stroke="#d62728" stroke-width="2.5"/>`);
    const label = options.kneeLabel ?? `knee: rate ${fmt(points[k].x)}, distortion ${fmt(points[k].y)}`;
    const right = px < W * 0.6;
    parts.push(`<text x="${f(px + (right ? 12 : -12))}" y="${f(Math.max(m.top + 14, py - 12))}" text-anchor="${right ? 'start' : 'end'}" fill="#d62728">${escapeXml(label)}</text>`);
  } else {
    parts.push(`<text x="${W - m.right}" y="${m.top - 8}" text-anchor="end" fill="#888">no knee</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/**
 * Rate–distortion tooling every knee-detector author needs, so that all detectors read curves,
 * draw them and answer `limit rd knee` / `limit rd plot` the same way. Detectors import these from
 * `limit-graph`; nothing here knows how a knee is found — the CLI looks the detector up as
 * `knee:<method>` in the container.
 */
import type { Command } from 'commander';
import type { KneeDetector } from './contracts/rd.ts';
import { LimitError, isLimitError } from './errors.ts';
import { jsonErrorPlace, readInputText, storePaths, writeOutputFile } from './cli-helpers.ts';
import type { CommandRegistry } from './hooks.ts';
import type { Runtime } from './runtime.ts';

// ---------------------------------------------------------------------------------------------
// Curve input

/**
 * A curve as `sortCurve` and the knee detectors accept it: `x` and `y` arrays, `{ x, y }` points, or RD
 * points (rate on the x axis, distortion on the y axis).
 */
export type CurveInput =
  | { x: ArrayLike<number>; y: ArrayLike<number> }
  | readonly { x: number; y: number }[]
  /** RD points: rate on the x axis, distortion on the y axis. */
  | readonly { rate: number; distortion: number }[];

/**
 * What `sortCurve` returns: the points sorted by x (ties keep their order), and each one's index in
 * the input.
 */
export interface SortedCurve {
  x: Float64Array;
  y: Float64Array;
  /** order[k] = index in the caller's input of the k-th point after sorting by x. */
  order: Int32Array;
}

/** LIMIT_RD_INVALID_INPUT, message "<field>: <what is wrong>", naming the plugin when given. */
function invalidCurve(field: string, message: string, plugin: string | undefined): LimitError {
  return new LimitError('LIMIT_RD_INVALID_INPUT', `${field}: ${message}`, { plugin, details: { field } });
}

/**
 * x/y arrays or a list of points (`{ x, y }` or RD points `{ rate, distortion }`), validated, then
 * sorted by x with a stable sort. Points with equal x keep the order in which they were given and
 * are all kept (no averaging, no de-duplication); `order` maps back to the caller's indices so
 * results can be reported in the caller's original order. Errors name the field (and index) that
 * was wrong and, when `plugin` is given, the detector that rejected it.
 */
export function sortCurve(input: CurveInput, options: { plugin?: string } = {}): SortedCurve {
  const { plugin } = options;
  const finite = (v: unknown, field: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidCurve(field, `must be a finite number, got ${String(v)}`, plugin);
    return v;
  };
  let xs: number[];
  let ys: number[];
  if (Array.isArray(input)) {
    xs = [];
    ys = [];
    input.forEach((pt: unknown, i: number) => {
      if (pt === null || typeof pt !== 'object') throw invalidCurve(`points[${i}]`, 'expected { x, y } or { rate, distortion }', plugin);
      const o = pt as Record<string, unknown>;
      if ('rate' in o || 'distortion' in o) {
        xs.push(finite(o.rate, `points[${i}].rate`));
        ys.push(finite(o.distortion, `points[${i}].distortion`));
      } else {
        xs.push(finite(o.x, `points[${i}].x`));
        ys.push(finite(o.y, `points[${i}].y`));
      }
    });
  } else {
    if (input === null || typeof input !== 'object') throw invalidCurve('curve', 'expected { x, y } or a list of points', plugin);
    const { x, y } = input as { x: ArrayLike<number>; y: ArrayLike<number> };
    if (!x || typeof x.length !== 'number') throw invalidCurve('x', 'must be an array of numbers', plugin);
    if (!y || typeof y.length !== 'number') throw invalidCurve('y', 'must be an array of numbers', plugin);
    if (x.length !== y.length) throw invalidCurve('y', `has ${y.length} values but x has ${x.length}`, plugin);
    xs = Array.from({ length: x.length }, (_, i) => finite(x[i], `x[${i}]`));
    ys = Array.from({ length: y.length }, (_, i) => finite(y[i], `y[${i}]`));
  }
  const idx = xs.map((_, i) => i);
  // Array.prototype.sort is stable: equal x keep their input order.
  idx.sort((a, b) => xs[a]! - xs[b]!);
  return {
    x: Float64Array.from(idx, (i) => xs[i]!),
    y: Float64Array.from(idx, (i) => ys[i]!),
    order: Int32Array.from(idx),
  };
}

/** How the caller of detectKnee names its points and sets a detector's call options (see detectKnee). */
export interface KneeCaller {
  pointName?: (k: number) => { field: string; label: string };
  optionHint?: (key: string, value: unknown, plugin: string | undefined) => string | undefined;
}

/**
 * The knee of `points` by `detector` (the service `knee:<name>`), its index checked: null or an
 * integer index into `points`. Another answer is a bug in the detector, refused as LIMIT_INTERNAL
 * naming it, never passed on as a knee without a point. The CLI, the orchestrator and the HTTP API
 * ask detectors through this.
 *
 * `caller` says how the caller names what a detector's error is about. `pointName` is for points the caller knows by other names than their place in `points` (the HTTP
 * API sorts a body's points by rate; the orchestrator reads a stored series): a detector's LimitError
 * naming `points[k]` (its field and the head of its message) is said of `pointName(k)` — `field`
 * for details.field, `label` for the message — so the caller is told which of its points to change.
 *
 * `optionHint` is for callers that set a detector's per-call options their own way (a CLI flag, a
 * request field, the plugin's configured options): a detector's LimitError whose details suggest a
 * call option (`details.option: { <key>: <value> }`, and `details.otherwise`, the remedy without it)
 * gets the fix `optionHint(key, value, plugin)`, then ", or <otherwise>" — Menger's "pass the option
 * normalize: true" becomes "pass --normalize" on the CLI. An `optionHint` answering undefined keeps the
 * detector's fix.
 */
export function detectKnee(
  detector: KneeDetector,
  name: string,
  points: readonly { x: number; y: number }[],
  options?: Record<string, unknown>,
  caller: KneeCaller = {},
): number | null {
  const { pointName, optionHint } = caller;
  let index: number | null;
  try {
    ({ index } = options === undefined ? detector.detect([...points]) : detector.detect([...points], options));
  } catch (error) {
    const named = pointName === undefined ? error : renamePoint(error, points.length, pointName);
    throw optionHint === undefined ? named : rephraseOptionFix(named, optionHint);
  }
  if (index === null || (Number.isInteger(index) && index >= 0 && index < points.length)) return index;
  throw new LimitError('LIMIT_INTERNAL', `knee:${name} returned index ${String(index)} for ${points.length} point(s): a knee detector answers null or an integer from 0 to ${points.length - 1}`, {
    details: { key: `knee:${name}`, index: String(index), points: points.length },
    fix: `A bug in the detector knee:${name}: report it to its plugin's author, or pick another detector.`,
  });
}

/** A LimitError naming `points[k]…` said of `pointName(k)` (details.field and the message's head). */
function renamePoint(error: unknown, count: number, pointName: (k: number) => { field: string; label: string }): unknown {
  if (!isLimitError(error) || typeof error.details?.field !== 'string') return error;
  const field = error.details.field;
  const m = /^points\[(\d+)\]/.exec(field);
  const k = m ? Number(m[1]) : -1;
  if (!m || k >= count) return error;
  const rest = field.slice(m[0].length);
  const { field: to, label } = pointName(k);
  const message = error.message.startsWith(`${field}: `) ? `${label}${rest}: ${error.message.slice(field.length + 2)}` : error.message;
  return new LimitError(error.code, message, {
    details: { ...error.details, field: `${to}${rest}` },
    fix: error.fix,
    cause: error,
    ...(error.plugin ? { plugin: error.plugin } : {}),
  });
}

/** A LimitError whose details suggest a call option, its fix said as the caller sets that option. */
function rephraseOptionFix(error: unknown, optionHint: (key: string, value: unknown, plugin: string | undefined) => string | undefined): unknown {
  if (!isLimitError(error)) return error;
  const option = error.details?.option;
  if (option === null || typeof option !== 'object' || Array.isArray(option)) return error;
  const entries = Object.entries(option as Record<string, unknown>);
  if (entries.length !== 1) return error;
  const [key, value] = entries[0]!;
  const hint = optionHint(key, value, error.plugin);
  if (hint === undefined) return error;
  const otherwise = typeof error.details?.otherwise === 'string' ? `, or ${error.details.otherwise}` : '';
  return new LimitError(error.code, error.message, {
    details: error.details,
    fix: `${hint[0]!.toUpperCase()}${hint.slice(1)}${otherwise}.`,
    cause: error,
    ...(error.plugin ? { plugin: error.plugin } : {}),
  });
}

/** (v − min)/(max − min); an axis with max = min becomes all zeros. */
export function minMax(v: Float64Array): Float64Array {
  let mn = Infinity;
  let mx = -Infinity;
  for (const t of v) {
    if (t < mn) mn = t;
    if (t > mx) mx = t;
  }
  const out = new Float64Array(v.length);
  const span = mx - mn;
  if (span === Infinity) {
    // A range wider than the largest double (values near ±1.8e308 of both signs): halves do not overflow.
    const half = mx / 2 - mn / 2;
    for (let i = 0; i < v.length; i++) out[i] = (v[i]! / 2 - mn / 2) / half;
    return out;
  }
  if (!(span > 0)) return out;
  for (let i = 0; i < v.length; i++) out[i] = (v[i]! - mn) / span;
  return out;
}

/**
 * True when every point lies within tolerance of the chord from the first to the last point, both
 * axes min–max scaled (a constant axis scales to 0): such a curve has no knee. The tolerance is
 * 1e-12 plus the rounding error the original coordinates carry, in scaled units
 * (4·ε·max|x|/(max x − min x) and the same for y): a line sampled at x = 1e6 + 0.1·i is off its
 * chord by ulps of 1e6, which scaling to [0, 1] turns into about 1e-10.
 */
export function isStraightLine(x: Float64Array, y: Float64Array): boolean {
  const n = x.length;
  if (n < 3) return true;
  const xn = minMax(x);
  const yn = minMax(y);
  const tol = 1e-12 + roundingOf(x) + roundingOf(y);
  const cx = xn[n - 1]! - xn[0]!;
  const cy = yn[n - 1]! - yn[0]!;
  const len = Math.hypot(cx, cy);
  for (let i = 1; i < n - 1; i++) {
    const dx = xn[i]! - xn[0]!;
    const dy = yn[i]! - yn[0]!;
    const dist = len > 0 ? Math.abs(dx * cy - dy * cx) / len : Math.hypot(dx, dy);
    if (dist > tol) return false;
  }
  return true;
}

/** 4·ε·max|v| / (max v − min v): the rounding error of v's entries on the min–max scale (0 for a constant v). */
function roundingOf(v: Float64Array): number {
  let mn = Infinity;
  let mx = -Infinity;
  for (const t of v) {
    if (t < mn) mn = t;
    if (t > mx) mx = t;
  }
  if (!(mx > mn)) return 0;
  const big = Math.max(Math.abs(mn), Math.abs(mx));
  // Halves: the span of values near ±1.8e308 of both signs overflows.
  return (4 * Number.EPSILON * (big / 2)) / (mx / 2 - mn / 2);
}

/** A curve as read from a file by `readCurve`. Shape hints (`curve`, `direction`) pass through unchecked. */
export interface CurveFile {
  x: number[];
  y: number[];
  name?: string;
  curve?: string;
  direction?: string;
}

function badFile(message: string, file: string): LimitError {
  return new LimitError('LIMIT_RD_INVALID_INPUT', `${file}: ${message}`, { details: { file } });
}

/**
 * `{ x: [...], y: [...] }` (with optional `id`, `curve`, `direction`), a list of `{ rate, distortion }`
 * / `{ x, y }` points, or an RD series `{ name?, points }`; `file` names the source in errors. Point
 * values (and x and y, which must be as long as each other) are checked to be numbers here;
 * finiteness and order are the detector's (`sortCurve`).
 */
export function parseCurve(data: unknown, file: string): CurveFile {
  const fromPoints = (pts: unknown[], name?: string): CurveFile => {
    const x: number[] = [];
    const y: number[] = [];
    pts.forEach((p, i) => {
      const o = (p ?? {}) as Record<string, unknown>;
      const px = o.rate ?? o.x;
      const py = o.distortion ?? o.y;
      if (typeof px !== 'number' || typeof py !== 'number') throw badFile(`point ${i} needs numeric rate/distortion (or x/y)`, file);
      x.push(px);
      y.push(py);
    });
    return { x, y, ...(name ? { name } : {}) };
  };
  if (Array.isArray(data)) return fromPoints(data);
  if (data && typeof data === 'object') {
    const o = data as Record<string, unknown>;
    if (Array.isArray(o.x) && Array.isArray(o.y)) {
      // Named as the file has them (x[1], not the points[1].x a detector would name after pairing them up).
      if (o.y.length !== o.x.length) throw badFile(`y has ${o.y.length} values but x has ${o.x.length}`, file);
      for (const axis of ['x', 'y'] as const) {
        (o[axis] as unknown[]).forEach((v, i) => {
          if (typeof v !== 'number') throw badFile(`${axis}[${i}] must be a number, got ${v === null ? 'null' : typeof v}`, file);
        });
      }
      return {
        x: o.x as number[],
        y: o.y as number[],
        ...(typeof o.id === 'string' ? { name: o.id } : {}),
        ...(typeof o.curve === 'string' ? { curve: o.curve } : {}),
        ...(typeof o.direction === 'string' ? { direction: o.direction } : {}),
      };
    }
    if (Array.isArray(o.points)) return fromPoints(o.points, typeof o.name === 'string' ? o.name : undefined);
  }
  throw badFile('expected { x, y }, a list of { rate, distortion } points, or an RD series { points }', file);
}

/**
 * Reads a JSON input file of an RD command (see `readInputText`): LIMIT_NOT_FOUND when it is
 * missing; LIMIT_RD_INVALID_INPUT when it is a folder, a pipe or a device, is not UTF-8 or not JSON
 * (with the line and column); LIMIT_PAYLOAD_TOO_LARGE over MAX_INPUT_BYTES.
 */
export async function readJsonFile(file: string, option = '--input'): Promise<unknown> {
  const text = readInputText(file, { option, code: 'LIMIT_RD_INVALID_INPUT' });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badFile(`is not valid JSON (${(error as Error).message})${jsonErrorPlace(text, error)}`, file);
  }
}

/** Reads and parses a curve file (see `parseCurve`): LIMIT_NOT_FOUND when unreadable, LIMIT_RD_INVALID_INPUT when malformed. */
export async function readCurve(file: string): Promise<CurveFile> {
  return parseCurve(await readJsonFile(file), file);
}

// ---------------------------------------------------------------------------------------------
// SVG plot

/** A point of `renderRdCurveSvg`: x is the rate, y the distortion. */
export interface PlotPoint {
  x: number;
  y: number;
}

/** The title and axis labels, the knee to mark, and the size (default 720 × 440) of `renderRdCurveSvg`'s SVG. */
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
function ticks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  // Each end divided first: hi − lo overflows for a range across ±1e308.
  const raw = hi / target - lo / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  // Each tick from its index, at most 2·target + 2 of them (a step ≥ the range / target gives at
  // most target + 1), repeats dropped: over a range of a few ulps (rates 1e16 … 1e16 + 4) the step is
  // below the spacing of doubles, and a loop on v += step never moved and never ended.
  const first = Math.ceil(lo / step);
  for (let i = 0; i <= 2 * target + 2; i++) {
    const v = (first + i) * step;
    if (!(v <= hi + step * 1e-9)) break;
    const t = Number(v.toPrecision(12));
    if (out[out.length - 1] !== t) out.push(t);
  }
  return out.length > 0 ? out : [lo];
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

/**
 * An RD curve as a standalone SVG: points joined in rate order, axes with round ticks, the knee
 * ringed and labelled. No dependencies; the output opens in any browser.
 */
export function renderRdCurveSvg(points: readonly PlotPoint[], options: PlotOptions = {}): string {
  const W = options.width ?? 720;
  const H = options.height ?? 440;
  const m = { left: 72, right: 24, top: 48, bottom: 56 };
  const order = points.map((_, i) => i).sort((a, b) => points[a]!.x - points[b]!.x);
  // No points (a series just created): empty axes over [0, 1], not ±Infinity. A loop, not
  // Math.min(...xs): spreading a long curve (about 125,000 points) overflows the call stack.
  let x0 = points.length ? Infinity : 0;
  let x1 = points.length ? -Infinity : 1;
  let y0 = 0;
  let y1 = points.length ? -Infinity : 1;
  for (const p of points) {
    if (p.x < x0) x0 = p.x;
    if (p.x > x1) x1 = p.x;
    if (p.y < y0) y0 = p.y;
    if (p.y > y1) y1 = p.y;
  }
  if (!(x1 > x0)) {
    x0 -= 1;
    x1 += 1;
  }
  if (!(y1 > y0)) {
    y0 -= 1;
    y1 += 1;
  }
  // Spans and positions from halves, so that a range across ±1e308 does not overflow to ∞ (and NaN coordinates).
  const padY = (y1 / 2 - y0 / 2) * 0.1;
  y1 = Math.min(Number.MAX_VALUE, y1 + padY);
  const sx = (x: number): number => m.left + ((x / 2 - x0 / 2) / (x1 / 2 - x0 / 2)) * (W - m.left - m.right);
  const sy = (y: number): number => H - m.bottom - ((y / 2 - y0 / 2) / (y1 / 2 - y0 / 2)) * (H - m.top - m.bottom);
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
    parts.push(`<text x="${W - m.right}" y="${m.top - 8}" text-anchor="end" fill="#888">${points.length ? 'no knee' : 'no points'}</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// `limit rd knee` / `limit rd plot`

/** The shared `rd` command group: whichever RD plugin asks first creates it, the others reuse it. */
export function rdCommandGroup(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'rd');
  return existing ?? program.command('rd').description('rate–distortion: FGW distortion, rates, knees and plots');
}

/** The flags of `limit rd knee` (and `limit rd plot`). */
export interface KneeCliFlags {
  input: string;
  method?: string;
  normalize?: boolean;
  online?: boolean;
  json?: boolean;
}

/** How one detector takes its per-call options from the CLI's flags and the curve file. */
export interface KneeCliMethod {
  /** The detector's name: `--method <method>` resolves `knee:<method>`. */
  method: string;
  callOptions(flags: KneeCliFlags, curve: CurveFile): Record<string, unknown>;
  /**
   * Optional: the flag that sets call option `key` to `value` (`--normalize` for menger's
   * `normalize: true`), named in the fix of a detector error that suggests the option
   * (`detectKnee`'s `optionHint`). Without one (or answering undefined) the fix names the plugin's
   * option in the config.
   */
  flag?(key: string, value: unknown): string | undefined;
}

// Per program, because the commands are registered once but every knee plugin brings its own mapping.
const cliMethods = new WeakMap<Command, Map<string, KneeCliMethod>>();

/** Preferred when no --method is given and several detectors are loaded (kneedle is made for RD curves). */
const PREFERRED = ['kneedle', 'menger'];

const METHOD_HELP = 'knee detector: the <name> of any loaded knee:<name> — kneedle, menger or a plugin\'s own (default: kneedle when loaded, else the first loaded)';

function pickDetector(rt: Runtime, method: string | undefined): { name: string; detector: KneeDetector } {
  const available = rt.keys('knee:').map((k) => k.slice(5));
  const name = method ?? PREFERRED.find((m) => available.includes(m)) ?? available[0];
  if (!name || !available.includes(name)) {
    throw new LimitError('LIMIT_SERVICE_NOT_FOUND', `No knee detector "${method ?? '*'}" is loaded; available: ${available.join(', ') || 'none'}`, {
      details: { key: `knee:${method ?? '*'}` },
      fix: available.length
        ? `Pass --method with a loaded detector (${available.join(', ')}), or enable the plugin that provides knee:${method} in the config.`
        : "Enable a knee detector in the config: knee-kneedle or knee-menger (built-in), or a plugin of your own that provides knee:<name>.",
    });
  }
  return { name, detector: rt.resolve(`knee:${name}`) };
}

function detect(rt: Runtime, methods: Map<string, KneeCliMethod>, curve: CurveFile, flags: KneeCliFlags & { input: string }): { method: string; index: number | null } {
  const { name, detector } = pickDetector(rt, flags.method);
  const options = methods.get(name)?.callOptions(flags, curve) ?? {};
  const points = curve.x.map((x, i) => ({ x, y: curve.y[i]! }));
  // A point the detector refuses is named in the input file, as the file's other errors are (`curve.json › point 2 …`).
  const pointName = (k: number) => ({ field: `points[${k}]`, label: `${flags.input} › point ${k} (x ${curve.x[k]}, y ${curve.y[k]})` });
  // A call option the detector suggests is named as this command sets it: a flag, else the config.
  const optionHint = (key: string, value: unknown, plugin: string | undefined) => {
    const flag = methods.get(name)?.flag?.(key, value);
    return flag ? `pass ${flag}` : `set plugins['${plugin ?? `knee-${name}`}'].${key}: ${JSON.stringify(value)} in the config (without a flag for it, the command calls knee:${name} with its configured options)`;
  };
  return { method: name, index: detectKnee(detector, name, points, options, { pointName, optionHint }) };
}

/**
 * Adds `limit rd knee` and `limit rd plot` to the shared `rd` group, once per program however many
 * knee plugins call it (each from its `cliCommands` tap), and records how `method` maps CLI flags
 * to its call options. The detector is resolved from the container when a command runs.
 */
export function registerKneeCommands(registry: CommandRegistry, method?: KneeCliMethod): void {
  const rd = rdCommandGroup(registry.program);
  let methods = cliMethods.get(registry.program);
  if (!methods) cliMethods.set(registry.program, (methods = new Map()));
  if (method) methods.set(method.method, method);
  const known = methods;
  if (!rd.commands.some((c) => c.name() === 'knee')) {
    rd.command('knee')
      .description('knee of a curve: { x, y }, a list of { rate, distortion } points or an RD series')
      .requiredOption('--input <file>', 'curve JSON')
      .option('--method <name>', METHOD_HELP)
      .option('--normalize', 'menger: min–max scale both axes first')
      .option('--online', 'kneedle: report the last knee instead of the first')
      .option('--json', 'print { index, method, point } as one JSON document')
      .action(async (flags: KneeCliFlags) => {
        const curve = await readCurve(flags.input);
        const rt = await registry.runtime();
        const { method: used, index } = detect(rt, known, curve, flags);
        const point = index === null ? null : { x: curve.x[index]!, y: curve.y[index]! };
        if (flags.json) registry.printJson({ index, method: used, point });
        else registry.print(index === null ? `no knee (${used})` : `knee at index ${index}: x = ${point!.x}, y = ${point!.y} (${used})`);
      });
  }
  if (!rd.commands.some((c) => c.name() === 'plot')) {
    rd.command('plot')
      .description('draw an RD curve as SVG with its knee marked')
      .requiredOption('--input <file>', 'RD series JSON ({ points }), a list of { rate, distortion }, or { x, y }')
      .requiredOption('--out <file>', 'SVG file to write (missing parent folders are created)')
      .option('--force', 'overwrite an existing --out file')
      .option('--method <name>', METHOD_HELP)
      .option('--normalize', 'menger: min–max scale both axes first')
      .option('--title <text>', 'title (default: the series name)')
      .option('--json', 'print { out, index, method } as one JSON document')
      .action(async (flags: KneeCliFlags & { out: string; force?: boolean; title?: string }) => {
        const curve = await readCurve(flags.input);
        const rt = await registry.runtime();
        let knee: { method: string; index: number | null } = { method: 'none', index: null };
        if (rt.keys('knee:').length > 0 || flags.method) knee = detect(rt, known, curve, flags);
        const svg = renderRdCurveSvg(
          curve.x.map((x, i) => ({ x, y: curve.y[i]! })),
          { title: flags.title ?? curve.name ?? 'rate–distortion', knee: knee.index },
        );
        await writeOutputFile(flags.out, svg, {
          force: flags.force,
          protect: [{ path: flags.input, what: `the input file (--input ${flags.input})` }, ...(await storePaths(rt))],
        });
        if (flags.json) registry.printJson({ out: flags.out, index: knee.index, method: knee.method });
        else registry.print(`wrote ${flags.out}${knee.index === null ? ' (no knee)' : ` (knee at index ${knee.index}, ${knee.method})`}`);
      });
  }
}

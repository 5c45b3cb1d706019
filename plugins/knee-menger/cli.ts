/**
 * `limit rd knee` and `limit rd plot`. Both knee plugins carry this file and register the
 * commands if no other plugin did, so either detector alone enables them; the detector itself is
 * looked up in the container (`knee:<method>`), never imported.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LimitError, type CommandRegistry, type KneeDetector, type Runtime } from 'limit-graph';
import { renderRdSvg } from './plot.ts';

type Program = CommandRegistry['program'];

/** The shared `rd` command group (created by whichever RD plugin registers first). */
export function rdGroup(program: Program): Program {
  const existing = program.commands.find((c) => c.name() === 'rd');
  return existing ?? program.command('rd').description('rate–distortion: FGW distortion, rates, knees and plots');
}

interface Curve {
  x: number[];
  y: number[];
  name?: string;
  curve?: string;
  direction?: string;
}

function bad(message: string, file: string): LimitError {
  return new LimitError('LIMIT_RD_INVALID_INPUT', `${file}: ${message}`, { details: { file } });
}

/** `{ x: [...], y: [...] }`, a list of `{ rate, distortion }` / `{ x, y }`, or an RD series `{ points }`. */
export function parseCurve(data: unknown, file: string): Curve {
  const fromPoints = (pts: unknown[], name?: string): Curve => {
    const x: number[] = [];
    const y: number[] = [];
    pts.forEach((p, i) => {
      const o = (p ?? {}) as Record<string, unknown>;
      const px = o.rate ?? o.x;
      const py = o.distortion ?? o.y;
      if (typeof px !== 'number' || typeof py !== 'number') throw bad(`point ${i} needs numeric rate/distortion (or x/y)`, file);
      x.push(px);
      y.push(py);
    });
    return { x, y, ...(name ? { name } : {}) };
  };
  if (Array.isArray(data)) return fromPoints(data);
  if (data && typeof data === 'object') {
    const o = data as Record<string, unknown>;
    if (Array.isArray(o.x) && Array.isArray(o.y)) {
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
  throw bad('expected { x, y }, a list of { rate, distortion } points, or an RD series { points }', file);
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new LimitError('LIMIT_NOT_FOUND', `Cannot read ${file}`, { cause: error, details: { file } });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw bad('is not valid JSON', file);
  }
}

function pickDetector(rt: Runtime, method: string | undefined): { name: string; detector: KneeDetector } {
  const available = rt.keys('knee:').map((k) => k.slice(5));
  const name = method ?? ['kneedle', 'menger'].find((m) => available.includes(m)) ?? available[0];
  if (!name || !available.includes(name)) {
    throw new LimitError('LIMIT_SERVICE_NOT_FOUND', `No knee detector "${method ?? '*'}" is loaded; available: ${available.join(', ') || 'none'}`, {
      details: { key: `knee:${method ?? '*'}` },
      fix: 'Enable knee-kneedle or knee-menger in limit.config.ts.',
    });
  }
  return { name, detector: rt.resolve(`knee:${name}`) };
}

interface KneeFlags {
  input: string;
  method?: string;
  normalize?: boolean;
  online?: boolean;
  json?: boolean;
}

function detect(rt: Runtime, curve: Curve, flags: KneeFlags): { method: string; index: number | null } {
  const { name, detector } = pickDetector(rt, flags.method);
  const options: Record<string, unknown> = {};
  if (name === 'menger' && flags.normalize !== undefined) options.normalize = flags.normalize;
  if (name === 'kneedle') {
    if (flags.online) options.online = true;
    if (curve.curve) options.curve = curve.curve;
    if (curve.direction) options.direction = curve.direction;
  }
  const points = curve.x.map((x, i) => ({ x, y: curve.y[i]! }));
  return { method: name, index: detector.detect(points, options).index };
}

export function registerKneeCommands(registry: CommandRegistry): void {
  const rd = rdGroup(registry.program);
  if (!rd.commands.some((c) => c.name() === 'knee')) {
    rd.command('knee')
      .description('knee of a curve: { x, y }, a list of { rate, distortion } points or an RD series')
      .requiredOption('--input <file>', 'curve JSON')
      .option('--method <name>', 'kneedle or menger (default: kneedle when loaded)')
      .option('--normalize', 'menger: min–max scale both axes first')
      .option('--online', 'kneedle: report the last knee instead of the first')
      .option('--json', 'print { index, method, point } as one JSON document')
      .action(async (flags: KneeFlags) => {
        const curve = parseCurve(await readJson(flags.input), flags.input);
        const rt = await registry.runtime();
        const { method, index } = detect(rt, curve, flags);
        const point = index === null ? null : { x: curve.x[index]!, y: curve.y[index]! };
        if (flags.json) registry.printJson({ index, method, point });
        else registry.print(index === null ? `no knee (${method})` : `knee at index ${index}: x = ${point!.x}, y = ${point!.y} (${method})`);
      });
  }
  if (!rd.commands.some((c) => c.name() === 'plot')) {
    rd.command('plot')
      .description('draw an RD curve as SVG with its knee marked')
      .requiredOption('--input <file>', 'RD series JSON ({ points }), a list of { rate, distortion }, or { x, y }')
      .requiredOption('--out <file>', 'SVG file to write')
      .option('--method <name>', 'knee detector: kneedle or menger (default: kneedle when loaded)')
      .option('--normalize', 'menger: min–max scale both axes first')
      .option('--title <text>', 'title (default: the series name)')
      .option('--json', 'print { out, index, method } as one JSON document')
      .action(async (flags: KneeFlags & { out: string; title?: string }) => {
        const curve = parseCurve(await readJson(flags.input), flags.input);
        const rt = await registry.runtime();
        let knee: { method: string; index: number | null } = { method: 'none', index: null };
        if (rt.keys('knee:').length > 0 || flags.method) knee = detect(rt, curve, flags);
        const svg = renderRdSvg(
          curve.x.map((x, i) => ({ x, y: curve.y[i]! })),
          { title: flags.title ?? curve.name ?? 'rate–distortion', knee: knee.index },
        );
        await mkdir(path.dirname(path.resolve(flags.out)), { recursive: true });
        await writeFile(flags.out, svg);
        if (flags.json) registry.printJson({ out: flags.out, index: knee.index, method: knee.method });
        else registry.print(`wrote ${flags.out}${knee.index === null ? ' (no knee)' : ` (knee at index ${knee.index}, ${knee.method})`}`);
      });
  }
}

/**
 * The knee-detector conformance suite: every `KneeDetector` (`knee:<name>`, built-in or
 * third-party) runs it to prove it honours the contract (kernel/contracts/rd.ts) and the conventions
 * every detector shares through the kernel's RD tooling (`sortCurve`; docs/rd.md, "Knees"):
 * - `index` is an integer into the caller's points, or null;
 * - a clear elbow is found, on each curve shape the detector supports (with the call options that
 *   announce the shape, e.g. Kneedle's `{ curve, direction }`), wherever along the curve it lies;
 * - points in any order give the same knee point (x is sorted with a stable sort, `index` is in
 *   the caller's order); duplicate x are kept; the input is not modified;
 * - no knee (null), never the first point, for fewer than 3 points or points on one straight line
 *   (constant y included), whatever shape is announced;
 * - non-finite or non-numeric coordinates are a `LimitError` LIMIT_RD_INVALID_INPUT naming the point;
 * - the answer does not change when an axis is shifted, nor (for detectors that normalise: the
 *   `scaleInvariant` manifest entry) when an axis is rescaled.
 * Like the other suites: the caller passes a factory, each test gets a fresh detector.
 *
 *   import { kneeConformance } from 'limit-graph/testing';
 *   kneeConformance('knee-mine', async () => {
 *     const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'knee-mine': true } } });
 *     return { detector: rt.resolve('knee:mine'), close: () => rt.close().then(() => undefined) };
 *   }, { supports: { scaleInvariant: true } });
 */
import { describe, expect, it } from 'vitest';
import { freshEach } from './fresh.ts';
import { isLimitError, mulberry32, type KneeDetector } from 'limit-graph';

export interface KneeDetectorUnderTest {
  detector: KneeDetector;
  close?: () => Promise<void>;
}

export type KneeDetectorFactory = () => KneeDetectorUnderTest | Promise<KneeDetectorUnderTest>;

export type KneeShape = 'convex-decreasing' | 'concave-increasing' | 'convex-increasing' | 'concave-decreasing';
export const KNEE_SHAPES: readonly KneeShape[] = ['convex-decreasing', 'concave-increasing', 'convex-increasing', 'concave-decreasing'];

export interface KneeConformanceSupports {
  /** Shapes on which the detector finds a clear elbow (given `callOptions(shape)`). Default all four. */
  shapes: readonly KneeShape[];
  /** The knee does not change when x or y is multiplied by a positive constant (detectors that normalise the axes). Default false. */
  scaleInvariant: boolean;
}

export interface KneeConformanceOptions {
  supports?: Partial<KneeConformanceSupports>;
  /** Call options announcing a curve's shape (Kneedle: `{ curve, direction }`); default none. */
  callOptions?: (shape: KneeShape) => Record<string, unknown> | undefined;
  /** Call options for every other call (e.g. `{ normalize: true }`); merged under `callOptions`. */
  options?: Record<string, unknown>;
}

type Point = { x: number; y: number };

/**
 * A convex, decreasing elbow: a steep straight drop to the knee at `knee`, then a gentle straight
 * tail — the obvious knee, the only point off a straight line.
 */
export function elbowCurve(n: number, knee: number): Point[] {
  return Array.from({ length: n }, (_, i) => ({ x: i, y: i <= knee ? 10 - (9 * i) / knee : 1 - (0.5 * (i - knee)) / (n - 1 - knee) }));
}

/**
 * A convex, decreasing curve turned into `shape` by mirroring y and/or x, sorted by x; `map` gives
 * the sorted index a point of the original curve ends up at.
 */
export function toShape(shape: KneeShape, curve: readonly Point[]): { points: Point[]; map: (i: number) => number } {
  const mirrorX = shape === 'convex-increasing' || shape === 'concave-decreasing';
  const mirrorY = shape === 'concave-increasing' || shape === 'concave-decreasing';
  const points = curve.map((p) => ({ x: mirrorX ? 100 - p.x : p.x, y: mirrorY ? -p.y : p.y }));
  const n = curve.length;
  return mirrorX ? { points: points.reverse(), map: (i) => n - 1 - i } : { points, map: (i) => i };
}

/** The elbow of `elbowCurve(n, knee)` as `shape`, with the sorted index of its knee. */
export function shapedElbow(shape: KneeShape, n: number, knee: number): { points: Point[]; knee: number } {
  const { points, map } = toShape(shape, elbowCurve(n, knee));
  return { points, knee: map(knee) };
}

/** Deterministic shuffles (mulberry32): the same permutations on every run. */
function shuffled<T>(items: readonly T[], seed: number): { items: T[]; from: number[] } {
  const rand = mulberry32(seed);
  const from = items.map((_, i) => i);
  for (let i = from.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [from[i], from[j]] = [from[j]!, from[i]!];
  }
  return { items: from.map((i) => items[i]!), from };
}

/** Registers the knee-detector conformance groups under `describe(name)`. */
export function kneeConformance(name: string, factory: KneeDetectorFactory, options: KneeConformanceOptions = {}): void {
  const supports: KneeConformanceSupports = { shapes: KNEE_SHAPES, scaleInvariant: false, ...options.supports };
  const optionsFor = (shape?: KneeShape): Record<string, unknown> | undefined => {
    const own = shape === undefined ? undefined : options.callOptions?.(shape);
    return options.options === undefined && own === undefined ? undefined : { ...options.options, ...own };
  };

  describe(`knee detector conformance: ${name}`, () => {
    const fixture = freshEach(factory, 'knee detector');
    const detector = (): KneeDetector => fixture().detector;
    /** detect() on a frozen copy of the points (a detector must not modify them); checks the result's shape. */
    const detect = (points: readonly Point[], shape?: KneeShape): number | null => {
      const frozen = Object.freeze(points.map((p) => Object.freeze({ ...p }))) as Point[];
      let result: ReturnType<KneeDetector['detect']>;
      try {
        result = detector().detect(frozen, optionsFor(shape));
      } catch (error) {
        const frozenHint = error instanceof TypeError && /read[- ]only|not extensible|frozen/i.test(error.message) ? ' (the points are frozen: a detector must not modify its input)' : '';
        throw new Error(`detect threw on ${points.length} points: ${error instanceof Error ? error.message : String(error)}${frozenHint}`, { cause: error });
      }
      expect(result !== null && typeof result === 'object', 'detect returns { index }').toBe(true);
      const { index } = result;
      if (index !== null) {
        expect(Number.isInteger(index), `index ${index} is not an integer`).toBe(true);
        expect(index >= 0 && index < points.length, `index ${index} is outside the ${points.length} points`).toBe(true);
      }
      return index;
    };
    const invalid = (points: unknown[], at: number, what: string) => {
      let caught: unknown;
      try {
        detector().detect(Object.freeze(points.map((p) => (p && typeof p === 'object' ? Object.freeze({ ...p }) : p))) as Point[], optionsFor());
      } catch (error) {
        caught = error;
      }
      expect(isLimitError(caught, 'LIMIT_RD_INVALID_INPUT'), `${what}: expected a LimitError LIMIT_RD_INVALID_INPUT, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`).toBe(true);
      expect((caught as Error).message, `${what}: the message should name the point`).toContain(`[${at}]`);
    };


    describe('contract shape', () => {
      it('has a name and a detect function', () => {
        expect(typeof detector().name).toBe('string');
        expect(detector().name.length).toBeGreaterThan(0);
        expect(typeof detector().detect).toBe('function');
      });
    });

    describe('known curves', () => {
      for (const shape of supports.shapes) {
        it(`finds the elbow of a ${shape} curve wherever it lies`, () => {
          for (const [n, k] of [[11, 3], [13, 8], [6, 2], [40, 6], [40, 31]] as const) {
            const { points, knee } = shapedElbow(shape, n, k);
            expect(detect(points, shape), `${shape}, ${n} points, knee at sorted index ${knee}`).toBe(knee);
          }
        });
      }

      it('gives the same answer twice', () => {
        const { points, knee } = shapedElbow(supports.shapes[0] ?? 'convex-decreasing', 21, 7);
        // The knee both times (two nulls, or two wrong answers alike, would say nothing).
        expect(detect(points, supports.shapes[0])).toBe(knee);
        expect(detect(points, supports.shapes[0])).toBe(knee);
      });
    });

    describe('point order and duplicates', () => {
      it('reports the same knee point, by the caller\'s index, whatever the order of the points', () => {
        for (const shape of supports.shapes) {
          const { points, knee } = shapedElbow(shape, 15, 5);
          for (const seed of [1, 2, 3]) {
            const { items, from } = shuffled(points, seed);
            const index = detect(items, shape);
            expect(index === null ? null : from[index], `${shape}, shuffle ${seed}: index into the shuffled points`).toBe(knee);
          }
          const reversed = detect([...points].reverse(), shape);
          expect(reversed === null ? null : points.length - 1 - reversed, `${shape}, reversed`).toBe(knee);
        }
      });

      it('keeps duplicate x (no error, the same knee point)', () => {
        const shape = supports.shapes[0] ?? 'convex-decreasing';
        const { points, knee } = shapedElbow(shape, 12, 4);
        // A repeated point after the knee, and one before it (which moves the knee's index by one).
        const after = [...points.slice(0, 9), { ...points[8]! }, ...points.slice(9)];
        expect(detect(after, shape)).toBe(knee);
        const before = [...points.slice(0, 2), { ...points[1]! }, ...points.slice(2)];
        expect(detect(before, shape)).toBe(knee + 1);
      });
    });

    describe('no knee', () => {
      it('gives null (never the first point) for fewer than 3 points', () => {
        for (const shape of [undefined, ...supports.shapes]) {
          expect(detect([], shape)).toBeNull();
          expect(detect([{ x: 1, y: 2 }], shape)).toBeNull();
          expect(detect([{ x: 1, y: 2 }, { x: 2, y: 1 }], shape)).toBeNull();
        }
      });

      it('gives null for points on one straight line, constant y included, whatever shape is announced', () => {
        const lines: Point[][] = [
          Array.from({ length: 9 }, (_, i) => ({ x: i, y: 3 - 0.7 * i })),
          Array.from({ length: 9 }, (_, i) => ({ x: i, y: 0.25 * i + 1 })),
          Array.from({ length: 9 }, (_, i) => ({ x: i, y: 5 })),
          // Steps that are not exact in binary floating point.
          Array.from({ length: 30 }, (_, i) => ({ x: i * 0.1, y: 0.3 * (i * 0.1) + 0.7 })),
          Array.from({ length: 12 }, (_, i) => ({ x: 1e6 + i * 1e3, y: -2e-6 * i })),
        ];
        for (const shape of [undefined, ...supports.shapes]) {
          lines.forEach((line, i) => expect(detect(line, shape), `line ${i}, shape ${shape ?? '(none)'}`).toBeNull());
        }
      });
    });

    describe('invalid input', () => {
      it('refuses non-finite and non-numeric coordinates with LIMIT_RD_INVALID_INPUT naming the point', () => {
        const good = shapedElbow('convex-decreasing', 6, 2).points;
        const at = (i: number, p: unknown) => good.map((q, k) => (k === i ? p : q));
        invalid(at(0, { x: Number.NaN, y: 1 }), 0, 'x = NaN');
        invalid(at(2, { x: 2, y: Number.NaN }), 2, 'y = NaN');
        invalid(at(3, { x: Number.POSITIVE_INFINITY, y: 1 }), 3, 'x = Infinity');
        invalid(at(4, { x: 4, y: Number.NEGATIVE_INFINITY }), 4, 'y = -Infinity');
        invalid(at(1, { x: '1', y: 2 }), 1, 'x a string');
        invalid(at(5, { x: 5 }), 5, 'y missing');
        invalid(at(1, null), 1, 'a null point');
      });
    });

    describe('invariance', () => {
      // A smooth convex decreasing curve: its knee is a matter of where the bend is sharpest, so a
      // detector's answer can depend on the axes' units — the property is not trivially true.
      const shape = supports.shapes[0];
      const smooth = toShape(shape ?? 'convex-decreasing', Array.from({ length: 21 }, (_, i) => ({ x: i, y: 10 * Math.exp(-i / 3) }))).points;

      it('gives the same knee when an axis is shifted', () => {
        const base = detect(smooth, shape);
        // A knee to keep (null before and after would pass for a detector that never finds one).
        expect(base).not.toBeNull();
        for (const [dx, dy] of [[1000, 0], [0, -50], [-7.5, 123]] as const) {
          expect(detect(smooth.map((p) => ({ x: p.x + dx, y: p.y + dy })), shape), `shift (${dx}, ${dy})`).toBe(base);
        }
      });

      it.runIf(supports.scaleInvariant)('gives the same knee when an axis is rescaled', () => {
        const base = detect(smooth, shape);
        expect(base).not.toBeNull();
        for (const [sx, sy] of [[1000, 1], [1, 1000], [0.001, 7], [1e-6, 1e6]] as const) {
          expect(detect(smooth.map((p) => ({ x: p.x * sx, y: p.y * sy })), shape), `scale (${sx}, ${sy})`).toBe(base);
        }
      });
    });
  });
}

/**
 * measureDistortion (kernel): the async method of an RD algorithm when it has one, else the
 * synchronous contract exactly as before — a third-party algorithm never sees an option it does not know.
 */
import { type AsyncDistortionOptions, type DistortionOptions, type RdAlgorithm, isLimitError, measureDistortion } from 'limit-graph';
import { describe, expect, it } from 'vitest';

const g = { nodes: [{ id: 'a', features: [0] }], edges: [] };
const result = { value: 1, iterations: 1, converged: true, plan: [] as [number, number, number][] };

describe('measureDistortion', () => {
  it('calls a synchronous-only algorithm with the options as given, without the signal', async () => {
    const seen: (DistortionOptions | undefined)[] = [];
    const sync: RdAlgorithm = { name: 'sync', distortion: (_a, _b, o) => (seen.push(o), result) };
    const signal = new AbortController().signal;
    expect(await measureDistortion(sync, g, g)).toBe(result);
    expect(await measureDistortion(sync, g, g, { alpha: 0.3, timeLimitMs: 5 })).toBe(result);
    expect(await measureDistortion(sync, g, g, { alpha: 0.3, signal })).toBe(result);
    expect(seen).toEqual([undefined, { alpha: 0.3, timeLimitMs: 5 }, { alpha: 0.3 }]);
    // A synchronous error rejects as is.
    const failing: RdAlgorithm = { name: 'x', distortion: () => { throw new Error('bad graph'); } };
    await expect(measureDistortion(failing, g, g)).rejects.toThrow('bad graph');
  });

  it('prefers distortionAsync, handing it the signal', async () => {
    const seen: (AsyncDistortionOptions | undefined)[] = [];
    const both: RdAlgorithm = {
      name: 'both',
      distortion: () => { throw new Error('the synchronous method must not be called'); },
      distortionAsync: async (_a, _b, o) => (seen.push(o), result),
    };
    const signal = new AbortController().signal;
    expect(await measureDistortion(both, g, g, { maxIter: 3, signal })).toBe(result);
    expect(seen[0]).toEqual({ maxIter: 3, signal });
  });

  it('an aborted signal rejects with LIMIT_RD_ABORTED without computing', async () => {
    let calls = 0;
    const sync: RdAlgorithm = { name: 'sync', distortion: () => (calls++, result) };
    const error = await measureDistortion(sync, g, g, { signal: AbortSignal.abort(new Error('gone')) }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_RD_ABORTED')).toBe(true);
    expect((error as { status: number }).status).toBe(499);
    expect(((error as Error).cause as Error).message).toBe('gone');
    expect(calls).toBe(0);
  });

  it('refuses a result whose value is not a finite number as LIMIT_INTERNAL naming the algorithm (sync and async), never passing NaN on', async () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, undefined, '0.5']) {
      const bad = { ...result, value } as unknown as typeof result;
      for (const algorithm of [
        { name: 'odd', distortion: () => bad },
        { name: 'odd', distortion: () => result, distortionAsync: async () => bad },
      ] as RdAlgorithm[]) {
        const error = await measureDistortion(algorithm, g, g).catch((e: unknown) => e);
        expect(isLimitError(error, 'LIMIT_INTERNAL'), String(value)).toBe(true);
        expect((error as Error).message).toMatch(/^rd:odd returned a distortion value that is not a finite number/);
      }
    }
    // A finite value passes as it is, also a rounding-level negative one.
    const tiny = { ...result, value: -4e-16 };
    expect(await measureDistortion({ name: 'ok', distortion: () => tiny }, g, g)).toBe(tiny);
  });
});

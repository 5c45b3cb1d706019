/**
 * Degenerate input is rejected with LIMIT_RD_INVALID_INPUT and a message that names the field;
 * no input produces NaN.
 */
import { describe, expect, it } from 'vitest';
import { computeFgw } from '../../plugins/rd-fgw/api.ts';
import { fgwEntropic } from '../../plugins/rd-fgw/entropic.ts';
import { fgwExact } from '../../plugins/rd-fgw/exact.ts';
import type { AttributedGraph } from '../../plugins/rd-fgw/graph.ts';
import { problemFromMatrices } from '../../plugins/rd-fgw/problem.ts';

function rejection(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (error) {
    return { code: (error as { code?: string }).code, message: (error as Error).message };
  }
  throw new Error('expected a rejection');
}

const ok = {
  M: [
    [0, 1],
    [1, 0],
  ],
  C1: [
    [0, 1],
    [1, 0],
  ],
  C2: [
    [0, 2],
    [2, 0],
  ],
  p: [0.5, 0.5],
  q: [0.5, 0.5],
};

const graph = (ids: string[]): AttributedGraph => ({
  nodes: ids.map((id, i) => ({ id, features: [i, 1] })),
  edges: ids.slice(1).map((id, i) => ({ source: ids[i]!, target: id })),
});

describe('FGW input validation', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['empty source graph', () => computeFgw({ source: { nodes: [], edges: [] }, target: graph(['a']) }), /^source\.nodes: the graph is empty/],
    ['empty target graph', () => computeFgw({ source: graph(['a']), target: { nodes: [], edges: [] } }), /^target\.nodes: the graph is empty/],
    ['empty matrices', () => computeFgw({ M: [], C1: [], C2: [] }), /^C1: the source is empty/],
    ['M with the wrong number of rows', () => computeFgw({ ...ok, M: [[0, 1]] }), /^M: expected 2 rows, got 1/],
    ['M with a short row', () => computeFgw({ ...ok, M: [[0, 1], [1]] }), /^M\[1\]: expected 2 columns, got 1/],
    ['non-square C1', () => computeFgw({ ...ok, C1: [[0, 1], [1]] }), /^C1\[1\]: expected 2 columns/],
    ['flat C2 of non-square size', () => computeFgw({ ...ok, C2: [0, 1, 2] }), /^C2: a flat square matrix/],
    ['p of the wrong length', () => computeFgw({ ...ok, p: [1] }), /^p: expected 2 weights, got 1/],
    ['negative M entry', () => computeFgw({ ...ok, M: [[0, -1], [1, 0]] }), /^M\[0\]\[1\]: must be ≥ 0/],
    ['NaN in C1', () => computeFgw({ ...ok, C1: [[0, Number.NaN], [1, 0]] }), /^C1\[0\]\[1\]: must be a finite number/],
    ['infinite C2', () => computeFgw({ ...ok, C2: [[0, Number.POSITIVE_INFINITY], [2, 0]] }), /^C2\[0\]\[1\]: must be a finite number/],
    ['negative weight', () => computeFgw({ ...ok, q: [1.5, -0.5] }), /^q\[1\]: must be ≥ 0/],
    ['weights not summing to 1', () => computeFgw({ ...ok, p: [0.5, 0.6] }), /^p: weights must sum to 1 \(relative tolerance 1e-9\), got 1\.1/],
    ['alpha below 0', () => computeFgw(ok, { alpha: -0.1 }), /^alpha: must be a number in \[0, 1\]/],
    ['alpha above 1', () => computeFgw(ok, { alpha: 1.5 }), /^alpha: must be a number in \[0, 1\]/],
    ['alpha NaN', () => computeFgw(ok, { alpha: Number.NaN }), /^alpha/],
    ['epsilon 0', () => computeFgw(ok, { method: 'entropic', epsilon: 0 }), /^epsilon: must be a finite number > 0/],
    ['negative epsilon', () => computeFgw(ok, { method: 'entropic', epsilon: -1 }), /^epsilon/],
    ['unknown method', () => computeFgw(ok, { method: 'magic' as 'exact' }), /^method/],
    ['duplicate node id', () => computeFgw({ source: graph(['a', 'a']), target: graph(['b']) }), /^source\.nodes\[1\]\.id: duplicate node id "a"/],
    [
      'edge to an unknown node',
      () => computeFgw({ source: { ...graph(['a', 'b']), edges: [{ source: 'a', target: 'z' }] }, target: graph(['b']) }),
      /^source\.edges\[0\]\.target: unknown node id "z"/,
    ],
    [
      'negative edge weight',
      () => computeFgw({ source: { ...graph(['a', 'b']), edges: [{ source: 'a', target: 'b', weight: -2 }] }, target: graph(['b']) }),
      /^source\.edges\[0\]\.weight: must be a finite number ≥ 0/,
    ],
    [
      'features of different lengths',
      () => computeFgw({ source: graph(['a']), target: { nodes: [{ id: 'x', features: [1, 2, 3] }], edges: [] } }),
      /^source\.nodes\[0\]\.features: has 2 entries but target\.nodes\[0\]\.features has 3/,
    ],
    [
      'non-finite feature',
      () => computeFgw({ source: { nodes: [{ id: 'a', features: [1, Number.NaN] }], edges: [] }, target: graph(['b']) }),
      /^source\.nodes\[0\]\.features\[1\]: must be a finite number/,
    ],
    [
      'node weights that do not sum to 1',
      () => computeFgw({ source: { nodes: [{ id: 'a', features: [0, 1], weight: 0.3 }, { id: 'b', features: [1, 1], weight: 0.3 }], edges: [] }, target: graph(['x']) }, {}),
      /^source\.nodes: node weights must sum to 1/,
    ],
    [
      'some nodes weighted, others not',
      () => computeFgw({ source: { nodes: [{ id: 'a', features: [0, 1], weight: 1 }, { id: 'b', features: [1, 1] }], edges: [] }, target: graph(['x']) }),
      /^source\.nodes: 1 of 2 nodes have a weight/,
    ],
    [
      'features whose squared distance overflows, naming the nodes instead of the internal cost matrix',
      () => computeFgw({ source: { nodes: [{ id: 'a', features: [1e200] }], edges: [] }, target: { nodes: [{ id: 'x', features: [-1e200] }], edges: [] } }),
      /^source\.nodes\[0\]\.features: and target\.nodes\[0\]\.features are so far apart .*scale the features/,
    ],
    ['a starting plan that is not a coupling', () => fgwExact(problemFromMatrices(ok), { alpha: 0.5, G0: [[0, 0, 1]] }), /^G0: marginals differ/],
    // Text where a number belongs is shown as text, not as the number it reads like.
    ['a matrix entry given as text', () => computeFgw({ ...ok, M: [['0', 1], [1, 0]] } as never), /^M\[0\]\[0\]: must be a finite number, got "0" \(a string\)$/],
    ['a feature given as text', () => computeFgw({ source: { nodes: [{ id: 'a', features: [0, '1'] }], edges: [] }, target: graph(['x']) } as never), /^source\.nodes\[0\]\.features\[1\]: must be a finite number, got "1" \(a string\)$/],
    ['a node weight given as text', () => computeFgw({ source: { nodes: [{ id: 'a', features: [0, 1], weight: '1' }], edges: [] }, target: graph(['x']) } as never), /^source\.nodes\[0\]\.weight: must be a finite number ≥ 0, got "1" \(a string\)$/],
    // A string has a length, but is no list of weights or matrix.
    ['weights given as a string', () => computeFgw({ ...ok, p: 'ab' } as never), /^p: expected an array of 2 weights, got "ab" \(a string\)$/],
    ['a matrix given as a string', () => computeFgw({ ...ok, C1: 'abcd' } as never), /^C1: must be a matrix \(nested or flat array\), got "abcd" \(a string\)$/],
    // One graph of the pair missing was read as matrices: "C1: is required".
    ['a source graph without a target', () => computeFgw({ source: graph(['a']) } as never), /^target: is required \(graphs need source and target/],
    ['a target graph without a source', () => computeFgw({ target: graph(['a']), M: ok.M } as never), /^source: is required \(graphs need source and target/],
    // `directed` is a flag: "false", "no" and 1 were read as true (d(G, G') 0.5 where it is 0).
    ['a graph\'s directed given as text', () => computeFgw({ source: { ...graph(['a', 'b']), directed: 'false' }, target: graph(['x']) } as never), /^source\.directed: must be true or false \(or left out\), got "false" \(a string\)$/],
    ['a target\'s directed given as a number', () => computeFgw({ source: graph(['a']), target: { ...graph(['x', 'y']), directed: 1 } } as never), /^target\.directed: must be true or false \(or left out\), got 1$/],
    ['a graph\'s directed given as null', () => computeFgw({ source: graph(['a']), target: { ...graph(['x']), directed: null } } as never), /^target\.directed: must be true or false \(or left out\), got null$/],
    ['the directed option given as text', () => computeFgw({ source: graph(['a']), target: graph(['x']) }, { directed: 'no' } as never), /^directed: must be true or false \(or left out\), got "no" \(a string\)$/],
  ];

  for (const [name, fn, message] of cases) {
    it(`rejects ${name}`, () => {
      const err = rejection(fn);
      expect(err.code).toBe('LIMIT_RD_INVALID_INPUT');
      expect(err.message).toMatch(message);
    });
  }

  it('reads directed: true and false as given', () => {
    const g = graph(['a', 'b', 'c']);
    expect(computeFgw({ source: { ...g, directed: false }, target: g }).value).toBe(0);
    expect(computeFgw({ source: { ...g, directed: true }, target: g }).value).toBeGreaterThan(0.1);
  });

  it('accepts zero-mass nodes and keeps their rows and columns empty', () => {
    const pb = problemFromMatrices({ M: [[1, 2, 3], [4, 5, 6], [7, 8, 9]], C1: [[0, 1, 2], [1, 0, 1], [2, 1, 0]], C2: [[0, 1, 1], [1, 0, 1], [1, 1, 0]], p: [0.5, 0, 0.5], q: [0, 0.5, 0.5] });
    for (const res of [fgwExact(pb, { alpha: 0.5 }), fgwEntropic(pb, { alpha: 0.5, epsilon: 0.05 }), fgwEntropic(pb, { alpha: 0.5, epsilon: 0.05, solver: 'scaling' })]) {
      expect(Number.isFinite(res.value)).toBe(true);
      for (let j = 0; j < 3; j++) expect(res.plan[1 * 3 + j]).toBe(0);
      for (let i = 0; i < 3; i++) expect(res.plan[i * 3 + 0]).toBe(0);
      expect(res.diagnostics.marginalError).toBeLessThan(1e-9);
    }
  });
});

describe('never NaN', () => {
  it('the log-domain solver stays finite and feasible with a tiny ε and large costs', () => {
    const n = 6;
    const M = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => 1e4 * ((i - j) * (i - j) + 1)));
    const C = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => Math.abs(i - j) * 100));
    const pb = problemFromMatrices({ M, C1: C, C2: C });
    for (const epsilon of [1e-4, 1e-2, 1]) {
      const res = fgwEntropic(pb, { alpha: 0.3, epsilon });
      expect(Number.isFinite(res.value)).toBe(true);
      expect(res.diagnostics.marginalError).toBeLessThan(1e-9);
      for (const t of res.plan) expect(Number.isFinite(t) && t >= 0).toBe(true);
    }
  });

  it('the scaling replica reports underflow instead of returning NaN', () => {
    const n = 4;
    const M = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => 500 + 100 * Math.abs(i - j)));
    const C = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    const pb = problemFromMatrices({ M, C1: C, C2: C });
    let outcome: number | string;
    try {
      const res = fgwEntropic(pb, { alpha: 0, epsilon: 0.01, solver: 'scaling', maxIter: 11 });
      expect(res.diagnostics.numericalErrors).toBeGreaterThan(0);
      outcome = res.value;
    } catch (error) {
      outcome = (error as { code: string }).code;
    }
    expect(typeof outcome === 'string' ? outcome === 'LIMIT_RD_NOT_CONVERGED' : Number.isFinite(outcome)).toBe(true);
  });

  it('a single node on each side is a trivial coupling', () => {
    const res = computeFgw({ M: [[2]], C1: [[0]], C2: [[0]] }, { alpha: 0.25 });
    expect(res.value).toBe(1.5);
    expect(Array.from(res.plan)).toEqual([1]);
    const ent = computeFgw({ M: [[2]], C1: [[0]], C2: [[0]] }, { alpha: 0.25, method: 'entropic' });
    expect(ent.value).toBeCloseTo(1.5, 12);
  });
});

describe('maxMemoryMb: a solve too large for the memory bound is refused before anything is built', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);

  it('graphs and matrices past the bound: LIMIT_PAYLOAD_TOO_LARGE naming the sizes, the estimate and the bound', () => {
    const big = graph(ids(300));
    let error: { code?: string; message: string; details?: Record<string, unknown>; fix?: string } | undefined;
    try {
      computeFgw({ source: big, target: big }, { maxMemoryMb: 10 });
    } catch (e) {
      error = e as never;
    }
    expect(error?.code).toBe('LIMIT_PAYLOAD_TOO_LARGE');
    expect(error?.message).toMatch(/^source: graphs of 300 and 300 nodes need about \d+ MiB of working memory for FGW, above maxMemoryMb 10$/);
    expect(error?.details).toMatchObject({ field: 'source', n1: 300, n2: 300, maxMemoryMb: 10 });
    expect(Number(error?.details?.estimatedMb)).toBeGreaterThan(10);
    expect(error?.fix).toMatch(/maxMemoryMb/);
    // Within the bound the result is the one without a bound.
    const small = graph(ids(40));
    expect(computeFgw({ source: small, target: big }, { maxMemoryMb: 64 }).value).toBe(computeFgw({ source: small, target: big }).value);
    const flat = { M: new Array(300 * 300).fill(1), C1: new Array(300 * 300).fill(1), C2: new Array(300 * 300).fill(1) };
    expect(rejection(() => computeFgw(flat, { maxMemoryMb: 10 }))).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', message: expect.stringMatching(/^C1: /) });
  });

  it('the service applies the plugin-wide bound to every call, on the caller\'s thread and before a worker thread; a call cannot raise it', async () => {
    const { RdFgwOptions, createFgwService, FgwPool } = await import('../../plugins/rd-fgw/index.ts');
    let spawned = 0;
    const pool = new FgwPool(1, 4, () => {
      spawned++;
      throw new Error('no thread should start for a refused computation');
    });
    const svc = createFgwService(RdFgwOptions.parse({ maxMemoryMb: 10 }), pool);
    const big = graph(ids(300)) as never;
    expect(rejection(() => svc.distortion(big, big)).code).toBe('LIMIT_PAYLOAD_TOO_LARGE');
    await expect(svc.distortionAsync(big, big)).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
    expect(spawned).toBe(0);
    expect(rejection(() => svc.distortion(big, big, { maxMemoryMb: 4096 } as never))).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringMatching(/options\.maxMemoryMb: unknown option/) });
    expect(RdFgwOptions.parse({}).maxMemoryMb).toBe(2048);
    await pool.close();
  });
});

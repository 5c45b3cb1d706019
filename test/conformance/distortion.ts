/**
 * The distortion conformance suite: every `RdAlgorithm` (`rd:<name>`, a distortion between two
 * attributed graphs; built-in or third-party) runs it to prove it honours the contract
 * (kernel/contracts/rd.ts) and what a distortion of graphs must be:
 * - a result `{ value, iterations, converged, plan }` with a finite value ≥ 0 and a sparse plan
 *   whose entries index the two graphs' nodes; with `supports.coupling`, the plan is a coupling:
 *   its row and column sums are the node weights (every node's `weight`, else uniform);
 * - identity: a graph against itself, or against a relabelled copy of itself, gives ≈ 0;
 * - symmetry: d(G, H) = d(H, G); invariance under relabelling the nodes of both graphs (other ids,
 *   another node and edge order); determinism; graphs that differ in features and structure are apart;
 * - the input graphs are not modified (they are frozen);
 * - `distortionAsync`, when the algorithm has it, gives what `distortion` gives (within `tolerance`),
 *   rejects malformed graphs with the same LimitError, and rejects an aborted signal with
 *   LIMIT_RD_ABORTED;
 * - malformed graphs (empty, non-finite or ragged features, duplicate ids, edges to unknown nodes,
 *   negative or non-finite weights, not a graph) and invalid `DistortionOptions` are a `LimitError`
 *   LIMIT_RD_INVALID_INPUT naming the graph at fault — never NaN.
 * Non-convex measures (FGW) are solved to a local optimum: the identity, symmetry and relabelling
 * properties are checked on graphs with distinct node features, where the optimum is unambiguous;
 * `supports` switches off what a method honestly cannot promise (and `identityTolerance` covers
 * regularised methods, whose plan is blurred by design).
 *
 *   import { distortionConformance } from 'limit-graph/testing';
 *   distortionConformance('rd-mine', async () => {
 *     const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-mine': true } } });
 *     return { algorithm: rt.resolve('rd:mine'), close: () => rt.close().then(() => undefined) };
 *   });
 */
import { describe, expect, it } from 'vitest';
import { freshEach } from './fresh.ts';
import { isLimitError, type AttributedGraph, type DistortionOptions, type DistortionResult, type RdAlgorithm, mulberry32 } from 'limit-graph';

export interface DistortionUnderTest {
  algorithm: RdAlgorithm;
  close?: () => Promise<void>;
}

export type DistortionFactory = () => DistortionUnderTest | Promise<DistortionUnderTest>;

export interface DistortionConformanceSupports {
  /** d(G, G) and d(G, relabelled G) are within `identityTolerance` of 0. Default true. */
  identity: boolean;
  /** d(G, H) = d(H, G). Default true. */
  symmetry: boolean;
  /** Relabelling the nodes of both graphs leaves d unchanged. Default true. */
  relabelling: boolean;
  /** The plan is a coupling: row sums = source node weights, column sums = target node weights. Default true. */
  coupling: boolean;
  /** Invalid `DistortionOptions` (alpha outside [0, 1], epsilon ≤ 0, maxIter < 1, an unknown method) are refused. Default true. */
  options: boolean;
}

export interface DistortionConformanceOptions {
  supports?: Partial<DistortionConformanceSupports>;
  /** Options of every call (e.g. `{ method: 'entropic' }`). */
  callOptions?: DistortionOptions & Record<string, unknown>;
  /** Largest d(G, G) that counts as 0. Default 1e-9. */
  identityTolerance?: number;
  /** Relative tolerance of the symmetry and relabelling comparisons. Default 1e-9. */
  tolerance?: number;
  /** How far the plan's marginals may be from the node weights. Default 1e-6. */
  marginalTolerance?: number;
  /** Random graph pairs per property. Default 8. */
  pairs?: number;
}

type Graph = AttributedGraph;


/**
 * A connected random graph (a random tree plus a few chords, some weighted) whose nodes have
 * distinct 2-d features in [0, 4).
 */
export function randomGraph(seed: number, n: number, options: { directed?: boolean; weights?: boolean } = {}): Graph {
  const rand = mulberry32(seed);
  const nodes = Array.from({ length: n }, (_, i) => ({ id: `n${i}`, features: [rand() * 4, rand() * 4] }));
  const edges: Graph['edges'] = [];
  for (let i = 1; i < n; i++) edges.push({ source: `n${Math.floor(rand() * i)}`, target: `n${i}`, ...(rand() < 0.3 ? { weight: 0.5 + rand() * 2 } : {}) });
  for (let k = 0; k < Math.floor(n / 3); k++) {
    const a = Math.floor(rand() * n);
    const b = Math.floor(rand() * n);
    if (a !== b) edges.push({ source: `n${a}`, target: `n${b}` });
  }
  // In a directed graph every node is reached from n0 and reaches it back (a tree one way, a path the other).
  if (options.directed) for (let i = 1; i < n; i++) edges.push({ source: `n${i}`, target: `n${i - 1}` });
  if (options.weights) {
    const raw = nodes.map(() => 0.2 + rand());
    const sum = raw.reduce((a, b) => a + b, 0);
    let left = 1;
    nodes.forEach((node, i) => {
      const w = i === n - 1 ? left : raw[i]! / sum;
      left -= w;
      Object.assign(node, { weight: w });
    });
  }
  return { nodes, edges, ...(options.directed ? { directed: true } : {}) };
}

/** The same graph with other ids, its nodes in another order, its edges reversed in order (and, if undirected, in direction). */
export function relabelGraph(g: Graph, seed: number): Graph {
  const rand = mulberry32(seed);
  const order = g.nodes.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const name = new Map(g.nodes.map((node, i) => [String(node.id), `r${order[i]}-${String(node.id).length}`]));
  const nodes = order.map((i) => g.nodes[i]!).map((node) => ({ ...node, id: name.get(String(node.id))! }));
  const edges = [...g.edges].reverse().map((e) => (g.directed
    ? { ...e, source: name.get(String(e.source))!, target: name.get(String(e.target))! }
    : { ...e, source: name.get(String(e.target))!, target: name.get(String(e.source))! }));
  return { nodes, edges, ...(g.directed ? { directed: true } : {}) };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

const weightsOf = (g: Graph): number[] => (g.nodes.every((n) => n.weight !== undefined) ? g.nodes.map((n) => n.weight!) : g.nodes.map(() => 1 / g.nodes.length));

/** Registers the distortion conformance groups under `describe(name)`. */
export function distortionConformance(name: string, factory: DistortionFactory, options: DistortionConformanceOptions = {}): void {
  const supports: DistortionConformanceSupports = { identity: true, symmetry: true, relabelling: true, coupling: true, options: true, ...options.supports };
  const identityTol = options.identityTolerance ?? 1e-9;
  const tol = options.tolerance ?? 1e-9;
  const marginalTol = options.marginalTolerance ?? 1e-6;
  const pairs = options.pairs ?? 8;
  const close = (a: number, b: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

  /** Graph pairs of 1 to 10 nodes: undirected, directed, weighted, of different sizes. */
  const graphPairs = (): [string, Graph, Graph][] => Array.from({ length: pairs }, (_, k) => {
    const kind = { directed: k % 4 === 1, weights: k % 4 === 2 };
    const n1 = 2 + ((k * 3) % 9);
    const n2 = 3 + ((k * 5) % 8);
    return [`pair ${k} (${n1} and ${n2} nodes${kind.directed ? ', directed' : ''}${kind.weights ? ', node weights' : ''})`, randomGraph(101 + k, n1, kind), randomGraph(211 + k, n2, kind)];
  });

  describe(`distortion conformance: ${name}`, () => {
    const fixture = freshEach(factory, 'distortion');
    const algorithm = (): RdAlgorithm => fixture().algorithm;
    /** distortion() on frozen graphs, its result checked against the contract. */
    const distortion = (source: Graph, target: Graph, what: string, extra?: DistortionOptions & Record<string, unknown>): DistortionResult => {
      let result: DistortionResult;
      try {
        result = algorithm().distortion(deepFreeze(structuredClone(source)), deepFreeze(structuredClone(target)), extra || options.callOptions ? { ...options.callOptions, ...extra } : undefined);
      } catch (error) {
        const frozen = error instanceof TypeError && /read[- ]only|not extensible|frozen/i.test(error.message) ? ' (the graphs are frozen: a distortion must not modify its input)' : '';
        throw new Error(`${what}: distortion threw ${error instanceof Error ? error.message : String(error)}${frozen}`, { cause: error });
      }
      return checked(result, source, target, what);
    };
    /** A result checked against the contract: finite value ≥ 0, iterations, converged, a plan over the nodes (a coupling when supported). */
    const checked = (result: DistortionResult, source: Graph, target: Graph, what: string): DistortionResult => {
      expect(Number.isFinite(result.value), `${what}: value ${result.value} is not finite`).toBe(true);
      expect(result.value, `${what}: a distortion is never negative`).toBeGreaterThanOrEqual(0);
      expect(Number.isInteger(result.iterations) && result.iterations >= 0, `${what}: iterations ${result.iterations}`).toBe(true);
      expect(typeof result.converged, `${what}: converged`).toBe('boolean');
      expect(Array.isArray(result.plan), `${what}: plan`).toBe(true);
      const n1 = source.nodes.length;
      const n2 = target.nodes.length;
      for (const entry of result.plan) {
        const [i, j, mass] = entry;
        expect(entry.length === 3 && Number.isInteger(i) && Number.isInteger(j) && i >= 0 && i < n1 && j >= 0 && j < n2, `${what}: plan entry ${JSON.stringify(entry)} does not index ${n1} × ${n2} nodes`).toBe(true);
        expect(Number.isFinite(mass) && mass >= 0, `${what}: plan mass ${mass}`).toBe(true);
      }
      if (supports.coupling) {
        const rows = new Array<number>(n1).fill(0);
        const cols = new Array<number>(n2).fill(0);
        for (const [i, j, mass] of result.plan) {
          rows[i] = rows[i]! + mass;
          cols[j] = cols[j]! + mass;
        }
        const p = weightsOf(source);
        const q = weightsOf(target);
        rows.forEach((r, i) => expect(Math.abs(r - p[i]!), `${what}: plan row ${i} sums to ${r}, the node's weight is ${p[i]}`).toBeLessThanOrEqual(marginalTol));
        cols.forEach((c, j) => expect(Math.abs(c - q[j]!), `${what}: plan column ${j} sums to ${c}, the node's weight is ${q[j]}`).toBeLessThanOrEqual(marginalTol));
      }
      return result;
    };
    const refuses = (source: unknown, target: unknown, what: string, side: 'source' | 'target' | 'both' | 'options', extra?: Record<string, unknown>) => {
      let caught: unknown;
      let value: unknown;
      try {
        value = algorithm().distortion(source as Graph, target as Graph, { ...options.callOptions, ...extra }).value;
      } catch (error) {
        caught = error;
      }
      expect(isLimitError(caught, 'LIMIT_RD_INVALID_INPUT'), `${what}: expected a LimitError LIMIT_RD_INVALID_INPUT, got ${caught === undefined ? `a value (${String(value)})` : caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`).toBe(true);
      const message = (caught as Error).message;
      if (side === 'both') {
        expect(message, `${what}: the message should name the source`).toContain('source');
        expect(message, `${what}: the message should name the target`).toContain('target');
        return;
      }
      expect(message, `${what}: the message should name the ${side}`).toContain(side === 'options' ? Object.keys(extra ?? {})[0]! : side);
      // Naming the graph at fault first (as "source.edges[0].target: …"): a message that leads with the
      // other graph, or names both alike, tells no one which to fix.
      if (side !== 'options') expect(/source|target/.exec(message)?.[0], `${what}: the message should lead with the ${side}: ${message}`).toBe(side);
    };


    describe('contract shape', () => {
      it('has a name and a distortion function', () => {
        expect(typeof algorithm().name).toBe('string');
        expect(algorithm().name.length).toBeGreaterThan(0);
        expect(typeof algorithm().distortion).toBe('function');
      });

      it(`returns a finite value ≥ 0, iterations, converged and a plan over the nodes${supports.coupling ? ' whose marginals are the node weights' : ''}`, () => {
        for (const [what, a, b] of graphPairs()) distortion(a, b, what);
        const one = randomGraph(7, 1);
        distortion(one, one, 'one node against itself');
        distortion(one, randomGraph(8, 5), 'one node against five');
        const disconnected: Graph = { nodes: randomGraph(9, 5).nodes, edges: [{ source: 'n0', target: 'n1' }] };
        distortion(disconnected, randomGraph(10, 5), 'a disconnected graph');
        distortion({ nodes: randomGraph(11, 4).nodes, edges: [] }, randomGraph(12, 4), 'a graph without edges');
      });

      it('gives the same result twice', () => {
        const [[what, a, b]] = graphPairs() as [[string, Graph, Graph]];
        expect(distortion(a, b, what)).toEqual(distortion(a, b, what));
      });
    });

    describe('metric properties', () => {
      it.runIf(supports.identity)(`a graph against itself or a relabelled copy gives ≈ 0 (≤ ${identityTol})`, () => {
        for (const [what, a, b] of graphPairs()) {
          for (const [label, g] of [['source', a], ['target', b]] as const) {
            expect(distortion(g, g, `${what}, ${label} against itself`).value, `${what}: ${label} against itself`).toBeLessThanOrEqual(identityTol);
            expect(distortion(g, relabelGraph(g, 5), `${what}, ${label} against a relabelled copy`).value, `${what}: ${label} against a relabelled copy`).toBeLessThanOrEqual(identityTol);
          }
        }
      });

      it.runIf(supports.symmetry)('is symmetric: d(G, H) = d(H, G)', () => {
        for (const [what, a, b] of graphPairs()) {
          const ab = distortion(a, b, what).value;
          const ba = distortion(b, a, `${what}, swapped`).value;
          expect(close(ab, ba), `${what}: d(G, H) = ${ab} but d(H, G) = ${ba}`).toBe(true);
        }
      });

      it.runIf(supports.relabelling)('does not depend on node ids, node order or edge order', () => {
        for (const [what, a, b] of graphPairs()) {
          const base = distortion(a, b, what).value;
          for (const seed of [1, 2]) {
            const relabelled = distortion(relabelGraph(a, seed), relabelGraph(b, seed + 10), `${what}, relabelled ${seed}`).value;
            expect(close(base, relabelled), `${what}: ${base} before relabelling, ${relabelled} after`).toBe(true);
          }
        }
      });

      it('graphs that differ in features and structure are apart (d > 0)', () => {
        for (const [what, a] of graphPairs()) {
          if (a.nodes.length < 3) continue;
          // Every feature moved by 1, and a star in place of the graph's own edges.
          const other: Graph = {
            nodes: a.nodes.map((n) => ({ ...n, features: n.features.map((f) => f + 1) })),
            edges: a.nodes.slice(1).map((n) => ({ source: a.nodes[0]!.id, target: n.id })),
            ...(a.directed ? { directed: true } : {}),
          };
          expect(distortion(a, other, `${what}, against a changed copy`).value, `${what}: against a copy with other features and edges`).toBeGreaterThan(identityTol);
        }
      });
    });

    describe('distortionAsync (optional)', () => {
      it('when provided, gives what distortion gives, rejects what it refuses with the same LimitError, and honours an aborted signal', async (ctx) => {
        const alg = algorithm();
        if (alg.distortionAsync === undefined) return ctx.skip('the algorithm has no distortionAsync (optional: measureDistortion falls back to distortion)');
        expect(typeof alg.distortionAsync, 'distortionAsync').toBe('function');
        const call = options.callOptions;
        for (const [what, a, b] of graphPairs().slice(0, 4)) {
          const sync = distortion(a, b, what);
          const got = checked(await alg.distortionAsync(deepFreeze(structuredClone(a)), deepFreeze(structuredClone(b)), call ? { ...call } : undefined), a, b, `${what} (distortionAsync)`);
          expect(close(got.value, sync.value), `${what}: distortionAsync gave ${got.value}, distortion ${sync.value}`).toBe(true);
          expect(got.converged, `${what}: converged`).toBe(sync.converged);
        }
        const good = randomGraph(3, 4);
        for (const bad of [{ nodes: [], edges: [] }, { nodes: [{ id: 'a', features: [Number.NaN, 1] }], edges: [] }] as unknown as Graph[]) {
          let expected: unknown;
          try {
            alg.distortion(good, bad, call ? { ...call } : undefined);
          } catch (error) {
            expected = error;
          }
          const got = await alg.distortionAsync(good, bad, call ? { ...call } : undefined).then(() => undefined, (error: unknown) => error);
          expect(isLimitError(got, 'LIMIT_RD_INVALID_INPUT'), `distortionAsync of a malformed target: ${String(got)}`).toBe(true);
          expect((got as Error).message, 'the same message as distortion').toBe((expected as Error).message);
        }
        const aborted = await alg.distortionAsync(good, good, { ...call, signal: AbortSignal.abort() }).then(() => undefined, (error: unknown) => error);
        expect(isLimitError(aborted, 'LIMIT_RD_ABORTED'), `an aborted signal: ${String(aborted)}`).toBe(true);
      });
    });

    describe('malformed input', () => {
      const good = randomGraph(3, 4);
      const node = (over: Record<string, unknown>) => ({ id: 'a', features: [1, 2], ...over });
      const cases: [string, unknown][] = [
        ['not a graph', null],
        ['nodes not an array', { nodes: 'n0', edges: [] }],
        ['an empty graph (0 nodes)', { nodes: [], edges: [] }],
        ['a NaN feature', { nodes: [node({ features: [Number.NaN, 1] })], edges: [] }],
        ['an infinite feature', { nodes: [node({ features: [1, Number.POSITIVE_INFINITY] })], edges: [] }],
        ['features of different lengths', { nodes: [node({}), node({ id: 'b', features: [1, 2, 3] })], edges: [] }],
        ['a node without features', { nodes: [{ id: 'a' }], edges: [] }],
        ['two nodes with one id', { nodes: [node({}), node({})], edges: [] }],
        ['an edge to an unknown node', { nodes: [node({}), node({ id: 'b' })], edges: [{ source: 'a', target: 'zz' }] }],
        ['a negative edge weight', { nodes: [node({}), node({ id: 'b' })], edges: [{ source: 'a', target: 'b', weight: -1 }] }],
        ['a NaN edge weight', { nodes: [node({}), node({ id: 'b' })], edges: [{ source: 'a', target: 'b', weight: Number.NaN }] }],
        ['a negative node weight', { nodes: [node({ weight: 1.5 }), node({ id: 'b', weight: -0.5 })], edges: [] }],
        ['a NaN node weight', { nodes: [node({ weight: Number.NaN }), node({ id: 'b', weight: 1 })], edges: [] }],
      ];

      it('refuses malformed graphs with LIMIT_RD_INVALID_INPUT naming the graph at fault', () => {
        for (const [what, bad] of cases) {
          refuses(bad, good, `source: ${what}`, 'source');
          refuses(good, bad, `target: ${what}`, 'target');
        }
        // Each graph well-formed alone, they disagree: neither is at fault by itself, so both are named.
        const odd = { nodes: [node({ features: [1] })], edges: [] };
        refuses(odd, good, 'features of another length than the other graph\'s (source)', 'both');
        refuses(good, odd, 'features of another length than the other graph\'s (target)', 'both');
      });

      it.runIf(supports.options)('refuses invalid DistortionOptions with LIMIT_RD_INVALID_INPUT naming the option', () => {
        const b = randomGraph(4, 3);
        for (const extra of [{ alpha: -0.1 }, { alpha: 1.5 }, { alpha: Number.NaN }, { epsilon: 0 }, { epsilon: -1 }, { maxIter: 0 }, { method: 'simplex' }] as Record<string, unknown>[]) {
          refuses(good, b, `options ${JSON.stringify(extra)}`, 'options', extra);
        }
      });
    });
  });
}

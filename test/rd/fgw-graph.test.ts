import { describe, expect, it } from 'vitest';
import { computeFgw, sparsePlan, toProblem } from '../../plugins/rd-fgw/api.ts';
import { emd2 } from '../../plugins/rd-fgw/emd.ts';
import { type AttributedGraph, problemFromGraphs } from '../../plugins/rd-fgw/graph.ts';
import { mulberry32 as rng } from 'limit-graph';

const at = (C: Float64Array, n: number, i: number, j: number): number => C[i * n + j]!;

function path(n: number, dim = 2): AttributedGraph {
  return {
    nodes: Array.from({ length: n }, (_, i) => ({ id: `v${i}`, features: Array.from({ length: dim }, (_, k) => i + 0.1 * k) })),
    edges: Array.from({ length: n - 1 }, (_, i) => ({ source: `v${i}`, target: `v${i + 1}` })),
  };
}


describe('graphs → FGW matrices', () => {
  it('shortest-path structure of an unweighted path is |i − j|', () => {
    const pb = problemFromGraphs(path(5), path(4));
    expect(pb.n1).toBe(5);
    expect(pb.n2).toBe(4);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) expect(at(pb.C1, 5, i, j)).toBe(Math.abs(i - j));
    expect(Array.from(pb.p)).toEqual(new Array(5).fill(0.2));
  });

  it('uses edge weights (Dijkstra), the smallest of duplicate edges, and ignores self-loops', () => {
    const g: AttributedGraph = {
      nodes: ['a', 'b', 'c'].map((id) => ({ id, features: [0] })),
      edges: [
        { source: 'a', target: 'b', weight: 5 },
        { source: 'b', target: 'a', weight: 4 },
        { source: 'a', target: 'c', weight: 1 },
        { source: 'c', target: 'b', weight: 1.5 },
        { source: 'c', target: 'c', weight: 9 },
      ],
    };
    const { C1 } = problemFromGraphs(g, g);
    expect(at(C1, 3, 0, 1)).toBe(2.5);
    expect(at(C1, 3, 1, 0)).toBe(2.5);
    expect(at(C1, 3, 2, 2)).toBe(0);
    const adj = problemFromGraphs(g, g, { structure: 'adjacency' }).C1;
    expect(at(adj, 3, 0, 1)).toBe(4);
    expect(at(adj, 3, 2, 2)).toBe(9);
  });

  it('directed graphs give asymmetric structures; unreachable pairs are filled as documented', () => {
    const g: AttributedGraph = {
      directed: true,
      nodes: ['a', 'b', 'c'].map((id) => ({ id, features: [1, 2] })),
      edges: [
        { source: 'a', target: 'b', weight: 2 },
        { source: 'b', target: 'c', weight: 3 },
      ],
    };
    const { C1 } = problemFromGraphs(g, g);
    expect(at(C1, 3, 0, 2)).toBe(5);
    // No path back: largest finite distance (5) + largest edge weight (3).
    expect(at(C1, 3, 2, 0)).toBe(8);
    expect(at(problemFromGraphs(g, g, { unreachable: 100 }).C1, 3, 2, 0)).toBe(100);
    expect(() => problemFromGraphs(g, g, { unreachable: 'error' })).toThrow(/^source\.edges: no path from node "b" to node "a"/);
    // Undirected reading of the same edges.
    expect(at(problemFromGraphs(g, g, { directed: false }).C1, 3, 2, 0)).toBe(5);
    // Disconnected unweighted graph: diameter + 1.
    const split: AttributedGraph = { nodes: ['a', 'b', 'c', 'd'].map((id) => ({ id, features: [] })), edges: [{ source: 'a', target: 'b' }, { source: 'b', target: 'c' }] };
    expect(at(problemFromGraphs(split, split).C1, 4, 0, 3)).toBe(3);
  });

  it('normalises structures and derives node weights', () => {
    const g = path(4);
    const { C1 } = problemFromGraphs(g, g, { normalize: true });
    expect(Math.max(...C1)).toBe(1);
    expect(at(C1, 4, 0, 1)).toBeCloseTo(1 / 3, 15);
    const deg = problemFromGraphs(g, g, { weights: 'degree' }).p;
    expect(Array.from(deg)).toEqual([1 / 6, 2 / 6, 2 / 6, 1 / 6]);
    const weighted: AttributedGraph = { ...g, nodes: g.nodes.map((n, i) => ({ ...n, weight: [0.1, 0.2, 0.3, 0.4][i]! })) };
    expect(Array.from(problemFromGraphs(weighted, g).p)).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(Array.from(problemFromGraphs(weighted, g, { weights: 'uniform' }).p)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it('feature cost is the squared Euclidean distance', () => {
    const s: AttributedGraph = { nodes: [{ id: 1, features: [0, 0] }, { id: 2, features: [1, 2] }], edges: [{ source: 1, target: 2 }] };
    const t: AttributedGraph = { nodes: [{ id: 'x', features: [3, 4] }], edges: [] };
    const { M } = problemFromGraphs(s, t);
    expect(Array.from(M)).toEqual([25, 8]);
  });
});

describe('FGW on graphs', () => {
  function randomGraph(n: number, seed: number): AttributedGraph {
    const r = rng(seed);
    const nodes = Array.from({ length: n }, (_, i) => ({ id: `n${i}`, features: [r(), r(), r()] }));
    const edges: { source: string; target: string; weight: number }[] = [];
    for (let i = 1; i < n; i++) edges.push({ source: `n${Math.floor(r() * i)}`, target: `n${i}`, weight: 0.5 + r() });
    for (let k = 0; k < n; k++) {
      const a = Math.floor(r() * n);
      const b = Math.floor(r() * n);
      if (a !== b) edges.push({ source: `n${a}`, target: `n${b}`, weight: 0.5 + r() });
    }
    return { nodes, edges };
  }

  function relabel(g: AttributedGraph, seed: number): AttributedGraph {
    const r = rng(seed);
    const nodes = [...g.nodes];
    for (let i = nodes.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [nodes[i], nodes[j]] = [nodes[j]!, nodes[i]!];
    }
    return { nodes, edges: [...g.edges].reverse() };
  }

  it('a graph and a relabelled copy are at distance 0, and the plan finds the relabelling', () => {
    const g = randomGraph(12, 1);
    const h = relabel(g, 2);
    for (const alpha of [0, 0.5]) {
      const res = computeFgw({ source: g, target: h }, { alpha });
      expect(Math.abs(res.value)).toBeLessThan(1e-12);
      const plan = sparsePlan(res, 1e-12);
      expect(plan).toHaveLength(12);
      for (const [i, j] of plan) expect(h.nodes[j]!.id).toBe(g.nodes[i]!.id);
    }
  });

  it('α = 0 is plain optimal transport of the features; entropic and exact agree roughly', () => {
    const g = randomGraph(9, 3);
    const h = randomGraph(7, 4);
    const pb = toProblem({ source: g, target: h });
    const exact0 = computeFgw({ source: g, target: h }, { alpha: 0 });
    expect(Math.abs(exact0.value - emd2(pb.p, pb.q, pb.M))).toBeLessThan(1e-12);
    const exact = computeFgw({ source: g, target: h }, { alpha: 0.5 });
    const ent = computeFgw({ source: g, target: h }, { alpha: 0.5, method: 'entropic', epsilon: 1e-3 });
    expect(ent.converged).toBe(true);
    expect(Number.isFinite(ent.value)).toBe(true);
    // A small ε approaches a (local) optimum of the same objective.
    expect(Math.abs(ent.value - exact.value)).toBeLessThan(0.05 * Math.abs(exact.value) + 1e-3);
    expect(exact.n1).toBe(9);
    expect(exact.n2).toBe(7);
  });
});

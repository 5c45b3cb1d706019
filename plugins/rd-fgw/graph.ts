/**
 * Attributed graphs → FGW matrices.
 *
 * Conventions (also in the README):
 * - Structure `shortest_path` (default): C[i][k] = length of a shortest path (Dijkstra on edge
 *   weights, 1 when absent). Pairs with no path get `unreachable`: by default the largest finite
 *   distance plus the largest edge weight (diameter + 1 for unweighted graphs), or an error, or
 *   a number you give. Structure `adjacency`: C[i][k] = edge weight (1 when absent), 0 otherwise.
 * - Undirected unless `directed` (option, else the graph's own flag): an undirected edge fills
 *   both C[i][k] and C[k][i]. Self-loops are ignored by shortest paths. An edge listed twice
 *   counts once, with its smallest weight.
 * - `normalize: true` divides each C by its largest entry (hop counts ÷ diameter).
 * - Node weights: `auto` (default) uses every node's `weight` when all nodes have one and
 *   uniform weights when none has; `degree` is proportional to the number of incident edges.
 *   Given weights must be ≥ 0 and sum to 1 within 1e-9 (relative); they are then divided by their
 *   sum, so both sides carry exactly the same mass.
 * - M[i][j] = Σ_k (x_ik − y_jk)², the squared Euclidean distance of the feature vectors, which
 *   must all have the same length.
 */
import { type Deadline, checkDeadline, checkMemory, invalid, shown } from './errors.ts';
import { type FgwProblem, WEIGHT_SUM_RTOL, checkMagnitudes, normalizeWeights } from './problem.ts';

export interface GraphNode {
  id: string | number;
  features: readonly number[];
  weight?: number;
}

export interface GraphEdge {
  source: string | number;
  target: string | number;
  weight?: number;
}

export interface AttributedGraph {
  nodes: readonly GraphNode[];
  edges: readonly GraphEdge[];
  directed?: boolean;
}

export type StructureKind = 'shortest_path' | 'adjacency';
export type NodeWeighting = 'auto' | 'uniform' | 'degree' | 'given';

export interface GraphOptions {
  structure?: StructureKind;
  /** Overrides the graphs' own `directed` flags. */
  directed?: boolean;
  /** Distance for pairs without a path: 'max_plus_one' (default), 'error' or a number ≥ 0. */
  unreachable?: 'max_plus_one' | 'error' | number;
  /** Divide each structure matrix by its largest entry. */
  normalize?: boolean;
  weights?: NodeWeighting;
  /** A running deadline: shortest paths and the feature costs stop with LIMIT_RD_NOT_CONVERGED past it. */
  deadline?: Deadline;
  /** Refuse, before building anything, graphs whose solve would need more working memory (MiB; errors.ts checkMemory). */
  maxMemoryMb?: number;
}

interface Parsed {
  n: number;
  index: Map<string, number>;
  dim: number;
}

/** `directed` (a graph's or the option) is true, false or absent; anything else is refused naming it. */
function checkDirected(v: unknown, field: string): void {
  if (v !== undefined && typeof v !== 'boolean') throw invalid(field, `must be true or false (or left out), got ${v !== null && typeof v === 'object' ? JSON.stringify(v) : shown(v)}`);
}

function parseNodes(g: AttributedGraph, field: string): Parsed {
  if (g === null || typeof g !== 'object') throw invalid(field, 'expected a graph { nodes, edges }');
  if (!Array.isArray(g.nodes)) throw invalid(`${field}.nodes`, 'must be an array');
  if (!Array.isArray(g.edges)) throw invalid(`${field}.edges`, 'must be an array');
  // Read as a flag, never by truthiness: "false", "no" and 1 made an undirected graph directed.
  checkDirected(g.directed, `${field}.directed`);
  const n = g.nodes.length;
  if (n === 0) throw invalid(`${field}.nodes`, 'the graph is empty (0 nodes)');
  const index = new Map<string, number>();
  let dim = -1;
  g.nodes.forEach((node, i) => {
    const f = `${field}.nodes[${i}]`;
    if (node === null || typeof node !== 'object') throw invalid(f, 'expected { id, features }');
    if (typeof node.id !== 'string' && typeof node.id !== 'number') throw invalid(`${f}.id`, 'must be a string or number');
    const id = String(node.id);
    if (index.has(id)) throw invalid(`${f}.id`, `duplicate node id "${id}"`);
    index.set(id, i);
    if (!Array.isArray(node.features)) throw invalid(`${f}.features`, 'must be an array of numbers');
    if (dim < 0) dim = node.features.length;
    else if (node.features.length !== dim) {
      throw invalid(`${f}.features`, `has ${node.features.length} entries, expected ${dim} like the first node`);
    }
    const feats: readonly unknown[] = node.features;
    for (let k = 0; k < feats.length; k++) {
      const x = feats[k];
      if (typeof x !== 'number' || !Number.isFinite(x)) throw invalid(`${f}.features[${k}]`, `must be a finite number, got ${shown(x)}`);
    }
  });
  return { n, index, dim };
}

interface EdgeList {
  from: Int32Array;
  to: Int32Array;
  w: Float64Array;
  count: number;
}

function parseEdges(g: AttributedGraph, parsed: Parsed, field: string, directed: boolean, structure: StructureKind): EdgeList {
  const best = new Map<number, number>();
  const n = parsed.n;
  g.edges.forEach((e, k) => {
    const f = `${field}.edges[${k}]`;
    if (e === null || typeof e !== 'object') throw invalid(f, 'expected { source, target, weight? }');
    const s = parsed.index.get(String(e.source));
    const t = parsed.index.get(String(e.target));
    if (s === undefined) throw invalid(`${f}.source`, `unknown node id "${String(e.source)}"`);
    if (t === undefined) throw invalid(`${f}.target`, `unknown node id "${String(e.target)}"`);
    const w = e.weight ?? 1;
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw invalid(`${f}.weight`, `must be a finite number ≥ 0, got ${shown(w)}`);
    if (structure === 'shortest_path' && s === t) return;
    const a = directed ? s : Math.min(s, t);
    const b = directed ? t : Math.max(s, t);
    const key = a * n + b;
    const prev = best.get(key);
    if (prev === undefined || w < prev) best.set(key, w);
  });
  const count = best.size;
  const from = new Int32Array(count);
  const to = new Int32Array(count);
  const w = new Float64Array(count);
  let k = 0;
  for (const [key, weight] of best) {
    from[k] = Math.floor(key / n);
    to[k] = key % n;
    w[k] = weight;
    k++;
  }
  return { from, to, w, count };
}

/** All-pairs shortest paths by Dijkstra from every node (binary heap, typed arrays). */
export function allPairsShortestPaths(n: number, edges: EdgeList, directed: boolean, deadline?: Deadline): Float64Array {
  const deg = new Int32Array(n + 1);
  for (let k = 0; k < edges.count; k++) {
    deg[edges.from[k]! + 1]!++;
    if (!directed) deg[edges.to[k]! + 1]!++;
  }
  for (let i = 0; i < n; i++) deg[i + 1] = deg[i + 1]! + deg[i]!;
  const adj = new Int32Array(deg[n]!);
  const adjW = new Float64Array(deg[n]!);
  const fill = deg.slice(0, n);
  for (let k = 0; k < edges.count; k++) {
    const s = edges.from[k]!;
    const t = edges.to[k]!;
    adj[fill[s]!] = t;
    adjW[fill[s]!++] = edges.w[k]!;
    if (!directed) {
      adj[fill[t]!] = s;
      adjW[fill[t]!++] = edges.w[k]!;
    }
  }
  const D = new Float64Array(n * n).fill(Infinity);
  const heapNode = new Int32Array(deg[n]! + n);
  const heapKey = new Float64Array(deg[n]! + n);
  const done = new Uint8Array(n);
  for (let src = 0; src < n; src++) {
    if (deadline !== undefined && (src & 63) === 63) checkDeadline(deadline, `shortest paths from node ${src + 1} of ${n}`);
    const row = src * n;
    done.fill(0);
    let size = 0;
    const push = (v: number, key: number): void => {
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heapKey[p]! <= key) break;
        heapNode[i] = heapNode[p]!;
        heapKey[i] = heapKey[p]!;
        i = p;
      }
      heapNode[i] = v;
      heapKey[i] = key;
    };
    D[row + src] = 0;
    push(src, 0);
    while (size > 0) {
      const u = heapNode[0]!;
      const du = heapKey[0]!;
      size--;
      if (size > 0) {
        const lastNode = heapNode[size]!;
        const lastKey = heapKey[size]!;
        let i = 0;
        while (true) {
          let c = 2 * i + 1;
          if (c >= size) break;
          if (c + 1 < size && heapKey[c + 1]! < heapKey[c]!) c++;
          if (heapKey[c]! >= lastKey) break;
          heapNode[i] = heapNode[c]!;
          heapKey[i] = heapKey[c]!;
          i = c;
        }
        heapNode[i] = lastNode;
        heapKey[i] = lastKey;
      }
      if (done[u]) continue;
      done[u] = 1;
      for (let k = deg[u]!; k < deg[u + 1]!; k++) {
        const v = adj[k]!;
        const nd = du + adjW[k]!;
        if (nd < D[row + v]!) {
          D[row + v] = nd;
          push(v, nd);
        }
      }
    }
  }
  return D;
}

function structureOf(g: AttributedGraph, parsed: Parsed, field: string, opts: GraphOptions): { C: Float64Array; degree: Float64Array } {
  const structure = opts.structure ?? 'shortest_path';
  if (structure !== 'shortest_path' && structure !== 'adjacency') {
    throw invalid('structure', `must be 'shortest_path' or 'adjacency', got ${String(structure)}`);
  }
  checkDirected(opts.directed, 'directed');
  const directed = opts.directed ?? g.directed ?? false;
  const edges = parseEdges(g, parsed, field, directed, structure);
  const n = parsed.n;
  const degree = new Float64Array(n);
  for (let k = 0; k < edges.count; k++) {
    if (edges.from[k] === edges.to[k]) continue;
    degree[edges.from[k]!]!++;
    degree[edges.to[k]!]!++;
  }
  let C: Float64Array;
  if (structure === 'adjacency') {
    C = new Float64Array(n * n);
    for (let k = 0; k < edges.count; k++) {
      const s = edges.from[k]!;
      const t = edges.to[k]!;
      C[s * n + t] = edges.w[k]!;
      if (!directed) C[t * n + s] = edges.w[k]!;
    }
  } else {
    C = allPairsShortestPaths(n, edges, directed, opts.deadline);
    let maxFinite = 0;
    let unreachableCount = 0;
    for (let k = 0; k < n * n; k++) {
      const d = C[k]!;
      if (d === Infinity) unreachableCount++;
      else if (d > maxFinite) maxFinite = d;
    }
    if (unreachableCount > 0) {
      const mode = opts.unreachable ?? 'max_plus_one';
      let fillValue: number;
      if (mode === 'error') {
        let k = 0;
        while (C[k] !== Infinity) k++;
        const ids = g.nodes.map((x) => String(x.id));
        throw invalid(
          `${field}.edges`,
          `no path from node "${ids[Math.floor(k / n)]}" to node "${ids[k % n]}" (${unreachableCount} unreachable pairs); connect the graph or set unreachable`,
        );
      } else if (mode === 'max_plus_one') {
        let maxW = 0;
        for (let k = 0; k < edges.count; k++) if (edges.w[k]! > maxW) maxW = edges.w[k]!;
        fillValue = maxFinite + (maxW > 0 ? maxW : 1);
      } else if (typeof mode === 'number' && Number.isFinite(mode) && mode >= 0) {
        fillValue = mode;
      } else {
        throw invalid('unreachable', `must be 'max_plus_one', 'error' or a finite number ≥ 0, got ${String(mode)}`);
      }
      for (let k = 0; k < n * n; k++) if (C[k] === Infinity) C[k] = fillValue;
    }
  }
  for (let k = 0; k < n * n; k++) {
    if (C[k] === Infinity) {
      throw invalid(`${field}.edges`, `shortest-path distances overflow a double (edge weights up to ${maxOf(edges.w)}); scale the edge weights down`);
    }
  }
  if (opts.normalize) {
    let mx = 0;
    for (let k = 0; k < n * n; k++) if (C[k]! > mx) mx = C[k]!;
    if (mx > 0) for (let k = 0; k < n * n; k++) C[k] = C[k]! / mx;
  }
  return { C, degree };
}

function maxOf(x: Float64Array): number {
  let m = 0;
  for (let k = 0; k < x.length; k++) if (x[k]! > m) m = x[k]!;
  return m;
}

function weightsOf(g: AttributedGraph, degree: Float64Array, field: string, mode: NodeWeighting): Float64Array {
  const n = g.nodes.length;
  const given = g.nodes.filter((x) => x.weight !== undefined).length;
  let kind = mode;
  if (kind === 'auto') {
    if (given === n) kind = 'given';
    else if (given === 0) kind = 'uniform';
    else throw invalid(`${field}.nodes`, `${given} of ${n} nodes have a weight; give all or none (or set weights)`);
  }
  const w = new Float64Array(n);
  if (kind === 'uniform') return w.fill(1 / n);
  if (kind === 'degree') {
    let s = 0;
    for (let i = 0; i < n; i++) s += degree[i]!;
    if (s === 0) throw invalid(`${field}.edges`, 'degree weights need at least one edge');
    for (let i = 0; i < n; i++) w[i] = degree[i]! / s;
    return w;
  }
  if (kind !== 'given') throw invalid('weights', `must be 'auto', 'uniform', 'degree' or 'given', got ${String(kind)}`);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const x = g.nodes[i]!.weight;
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
      throw invalid(`${field}.nodes[${i}].weight`, `must be a finite number ≥ 0, got ${shown(x)}`);
    }
    w[i] = x;
    s += x;
  }
  if (!(Math.abs(s - 1) <= WEIGHT_SUM_RTOL)) {
    throw invalid(`${field}.nodes`, `node weights must sum to 1 (relative tolerance ${WEIGHT_SUM_RTOL}), got ${s}`);
  }
  return normalizeWeights(w, s);
}

/** Builds the FGW problem of two attributed graphs. */
export function problemFromGraphs(source: AttributedGraph, target: AttributedGraph, opts: GraphOptions = {}): FgwProblem {
  const ps = parseNodes(source, 'source');
  const pt = parseNodes(target, 'target');
  checkMemory(ps.n, pt.n, opts.maxMemoryMb, 'source');
  if (ps.dim !== pt.dim) {
    // Named on the source: in an RD series step the source is the step's graph, the one the caller can change.
    throw invalid('source.nodes[0].features', `has ${ps.dim} entries but target.nodes[0].features has ${pt.dim}: every node of both graphs needs the same number of features`);
  }
  const s = structureOf(source, ps, 'source', opts);
  const t = structureOf(target, pt, 'target', opts);
  const n1 = ps.n;
  const n2 = pt.n;
  const dim = ps.dim;
  const M = new Float64Array(n1 * n2);
  for (let i = 0; i < n1; i++) {
    if (opts.deadline !== undefined && (i & 63) === 63) checkDeadline(opts.deadline, `feature costs of source node ${i + 1} of ${n1}`);
    const x = source.nodes[i]!.features;
    for (let j = 0; j < n2; j++) {
      const y = target.nodes[j]!.features;
      let d = 0;
      for (let k = 0; k < dim; k++) {
        const diff = x[k]! - y[k]!;
        d += diff * diff;
      }
      if (d === Infinity) {
        throw invalid(`source.nodes[${i}].features`, `and target.nodes[${j}].features are so far apart that their squared distance overflows a double; scale the features (e.g. to [0, 1]) before comparing the graphs`);
      }
      M[i * n2 + j] = d;
    }
  }
  const mode = opts.weights ?? 'auto';
  const pb: FgwProblem = {
    n1,
    n2,
    M,
    C1: s.C,
    C2: t.C,
    p: weightsOf(source, s.degree, 'source', mode),
    q: weightsOf(target, t.degree, 'target', mode),
  };
  // A numeric `unreachable` larger than every distance is what makes C too large when it is the maximum.
  const fill = typeof opts.unreachable === 'number' ? opts.unreachable : NaN;
  const blame = (which: 'C1' | 'C2'): string => {
    const C = which === 'C1' ? pb.C1 : pb.C2;
    return maxOf(C) === fill ? 'unreachable' : `${which === 'C1' ? 'source' : 'target'}.edges`;
  };
  checkMagnitudes(pb, {
    C1: blame('C1'),
    C2: blame('C2'),
    M: 'source.nodes',
    what: `structure entries (${opts.structure === 'adjacency' ? 'edge weights' : 'shortest-path distances'})`,
  });
  return pb;
}

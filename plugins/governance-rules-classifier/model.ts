/**
 * A linear text classifier (multinomial logistic regression over word unigrams and bigrams): the
 * features of a text, training, and the class probabilities of a trained model. No dependencies:
 * the model is a vocabulary and a weight row per feature, small enough to read and to ship.
 */
import { mulberry32 } from 'limit-graph';

/** The classes, in the order of every weight row. */
export const CLASSES = ['benign', 'harmful', 'jailbreak', 'injection'] as const;
export type ClassName = (typeof CLASSES)[number];
const K = CLASSES.length;

/**
 * A trained model as it is stored (model.json). Version 2 keeps the features in one array and their
 * weights in another, flat: parsing it builds two arrays, where version 1's object with a key per
 * feature built tens of thousands of small arrays and a dictionary — garbage that, at 50,000
 * features, left V8's collector running through the first seconds of every process that loaded it.
 */
export interface LinearModel {
  /** What the file is: `limit-graph/linear-text-classifier`, and its format version. */
  format: 'limit-graph/linear-text-classifier';
  version: 2;
  classes: readonly ClassName[];
  /** Bias per class. */
  bias: number[];
  /** The features: words, and word pairs joined by one space, each once. */
  features: string[];
  /** The weights of feature i for each class (CLASSES order) at i·K … i·K + K − 1, rounded to 4 decimals. */
  weights: number[];
  /** How it was trained (data, hyper-parameters, counts), for the reader. */
  trainedOn: Record<string, unknown>;
}

/** The version 1 form (feature → weight row), still read: models trained before version 2. */
export interface LinearModelV1 extends Omit<LinearModel, 'version' | 'features' | 'weights'> {
  version: 1;
  weights: Record<string, number[]>;
}

/** A version 1 model in the version 2 form. */
export function upgrade(model: LinearModelV1): LinearModel {
  const features = Object.keys(model.weights);
  return { ...model, version: 2, features, weights: features.flatMap((f) => model.weights[f]!) };
}

/**
 * The features of a text: its words (letters, digits, apostrophes; lower case) and each pair of
 * neighbouring words. Words are the tokens the governance views make, so training and scanning read
 * a text the same way; at most `max` distinct features (long texts are read from the start).
 */
export function features(words: readonly string[], max = 4000): string[] {
  const out = new Set<string>();
  for (let i = 0; i < words.length && out.size < max; i++) {
    out.add(words[i]!);
    if (i > 0 && out.size < max) out.add(`${words[i - 1]} ${words[i]}`);
  }
  return [...out];
}

/**
 * Two 30-bit hashes of a word (small integers for V8, so the tables hash them cheaply): FNV-1a, and
 * a multiply-xorshift of the same characters. Features are told apart by both — 60 bits —, since
 * 30 alone let two of a 66,000-feature model's features share a hash (about two such pairs are
 * expected) and a text's unseen pair borrow a feature's weights. Returns the first; the second is
 * left in `secondHash` (one pass, no array allocated on the scoring path).
 */
function wordHash(w: string): number {
  let h = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i);
    h = Math.imul(h ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  secondHash = h2 & 0x3fffffff;
  return h & 0x3fffffff;
}
/** The second hash of the word wordHash was last called with. */
let secondHash = 0;
/** A word pair's hashes from its words' hashes (order matters). */
const pairHash = (a: number, b: number): number => (Math.imul(a, 0x5bd1e995) ^ (b + 0x9e3779b9)) & 0x3fffffff;
const pairHash2 = (a: number, b: number): number => (Math.imul(a, 0x85ebca6b) ^ (b + 0x27d4eb2f)) & 0x3fffffff;
/** The hashes of a stored feature: a word, or two words joined by one space (words never hold spaces). */
function featureHashes(f: string): [number, number] {
  const space = f.indexOf(' ');
  if (space < 0) return [wordHash(f), secondHash];
  const a = wordHash(f.slice(0, space));
  const a2 = secondHash;
  const b = wordHash(f.slice(space + 1));
  return [pairHash(a, b), pairHash2(a2, secondHash)];
}

/**
 * A model ready to score: an open-addressing table from each feature's hashes to the offset of its
 * weight row in one flat array. Scanning hashes a text's words instead of building its word-pair
 * strings (with two 30-bit hashes a collision with an unseen pair is a one-in-10^13 event per pair),
 * and looks them up without a Map or a Set: this runs on every view of every evaluation.
 */
export interface LoadedModel {
  bias: readonly number[];
  /** First hash + 1 of the feature in each slot (0: empty); a power of two long. */
  keys: Int32Array;
  /** Second hash of the feature in the same slot. */
  keys2: Int32Array;
  /** Weight row offset of the feature in the same slot. */
  rows: Int32Array;
  weights: Float64Array;
}

const slotOf = (h: number, mask: number): number => Math.imul(h, 0x9e3779b1) >>> 7 & mask;

export function load(model: LinearModel): LoadedModel {
  const n = model.features.length;
  const weights = Float64Array.from(model.weights);
  let size = 1024;
  while (size < n * 2) size *= 2;
  const keys = new Int32Array(size);
  const keys2 = new Int32Array(size);
  const rows = new Int32Array(size);
  model.features.forEach((f, i) => {
    const [h, h2] = featureHashes(f);
    let slot = slotOf(h, size - 1);
    while (keys[slot] !== 0 && (keys[slot] !== h + 1 || keys2[slot] !== h2)) slot = (slot + 1) & (size - 1);
    keys[slot] = h + 1;
    keys2[slot] = h2;
    rows[slot] = i * K;
  });
  return { bias: model.bias, keys, keys2, rows, weights };
}

/** The features already counted in the text being scored (each counts once, as in training): a reused table, since scoring is synchronous. */
const SEEN_SIZE = 16_384; // four times the most features a text is read for (predictWords caps `max` at half of it)
const seenKeys = new Int32Array(SEEN_SIZE);
const seenKeys2 = new Int32Array(SEEN_SIZE);
const seenStamp = new Uint32Array(SEEN_SIZE);
let stamp = 0;

/** Offset of the weight row of the feature hashed (h, h2), or -1 when the model does not have it. */
function rowOf(model: LoadedModel, h: number, h2: number): number {
  const { keys, keys2, rows } = model;
  const mask = keys.length - 1;
  for (let slot = slotOf(h, mask), key = keys[slot]!; key !== 0; slot = (slot + 1) & mask, key = keys[slot]!) {
    if (key === h + 1 && keys2[slot] === h2) return rows[slot]!;
  }
  return -1;
}

/** Sums of the current scoring (four classes; scoring is synchronous, so one set serves every call). */
const acc = new Float64Array(K);
let counted = 0;
/** Per word of the text last scored: its hash, its weight row and that of the pair it ends (-1: none). */
let wordHashes = new Int32Array(256);
let wordHashes2 = new Int32Array(256);
let wordRows = new Int32Array(256);
let pairRows = new Int32Array(256);

/** Counts the feature hashed (h, h2) once per text: adds its weights, if the model has it, to `acc`; its row, or -1. */
function count(model: LoadedModel, h: number, h2: number): number {
  let s = slotOf(h, SEEN_SIZE - 1);
  while (seenStamp[s] === stamp) {
    if (seenKeys[s] === h && seenKeys2[s] === h2) return -1;
    s = (s + 1) & (SEEN_SIZE - 1);
  }
  seenStamp[s] = stamp;
  seenKeys[s] = h;
  seenKeys2[s] = h2;
  counted++;
  const at = rowOf(model, h, h2);
  if (at >= 0) for (let k = 0; k < K; k++) acc[k]! += model.weights[at + k]!;
  return at;
}

export interface Scored {
  /** Class probabilities, CLASSES order. */
  p: number[];
  /**
   * The `top` words or word pairs that count most for class `k` against benign, as word index
   * ranges [first, last] in text order (a feature repeated in the text is shown once). Valid until
   * the next call of predictWords.
   */
  strongest(k: number, top?: number): { first: number; last: number }[];
}

/**
 * Class probabilities (CLASSES order) of a text given as its words (strings, or tokens with `w`):
 * the same features as `features()` (each word and word pair once, at most `max`), weighted 1/√n
 * so that long texts do not saturate.
 */
export function predictWords(model: LoadedModel, words: readonly (string | { readonly w: string })[], maxFeatures = 4000): Scored {
  // The table of features seen must never fill up (its probes would not end).
  const max = Math.min(maxFeatures, SEEN_SIZE / 2);
  if (++stamp === 0xffffffff) {
    seenStamp.fill(0);
    stamp = 1;
  }
  if (wordHashes.length < words.length) {
    wordHashes = new Int32Array(words.length * 2);
    wordHashes2 = new Int32Array(words.length * 2);
    wordRows = new Int32Array(words.length * 2);
    pairRows = new Int32Array(words.length * 2);
  }
  acc.fill(0);
  counted = 0;
  let read = 0;
  for (let i = 0; i < words.length && counted < max; i++, read++) {
    const item = words[i]!;
    const w = typeof item === 'string' ? item : item.w;
    const h = wordHash(w);
    const h2 = secondHash;
    wordHashes[i] = h;
    wordHashes2[i] = h2;
    wordRows[i] = count(model, h, h2);
    pairRows[i] = i > 0 && counted < max ? count(model, pairHash(wordHashes[i - 1]!, h), pairHash2(wordHashes2[i - 1]!, h2)) : -1;
  }
  const scale = counted ? 1 / Math.sqrt(counted) : 0;
  const p = softmax(model.bias.map((b, k) => b + acc[k]! * scale));
  return { p, strongest: (k, top = 3) => strongestOf(model, read, k, top) };
}

/** Scored.strongest over the first `n` words of the text last scored (rows of repeated features are -1 there: shown once). */
function strongestOf(model: LoadedModel, n: number, k: number, top: number): { first: number; last: number }[] {
  const best: { first: number; last: number; score: number }[] = [];
  const consider = (at: number, first: number, last: number) => {
    if (at < 0) return;
    const score = model.weights[at + k]! - model.weights[at]!;
    if (score <= 0 || (best.length === top && score <= best[top - 1]!.score)) return;
    let i = best.length;
    while (i > 0 && best[i - 1]!.score < score) i--;
    best.splice(i, 0, { first, last, score });
    if (best.length > top) best.pop();
  };
  for (let i = 0; i < n; i++) {
    consider(wordRows[i]!, i, i);
    consider(pairRows[i]!, i - 1, i);
  }
  return best.sort((a, b) => a.first - b.first).map(({ first, last }) => ({ first, last }));
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export interface TrainOptions {
  epochs: number;
  /** AdaGrad step size. */
  learningRate: number;
  /** L2 penalty per step on the weights a step touches. */
  l2: number;
  /** A feature seen in fewer training texts is left out. */
  minCount: number;
  /** Weights below this (absolute, every class) are dropped from the stored model. */
  prune: number;
  seed: number;
}

/**
 * Trains softmax regression with AdaGrad on (features, class) examples, each class weighted by the
 * inverse of its share so that a small class counts as much as a large one.
 */
export function train(examples: readonly { feats: readonly string[]; label: ClassName }[], o: TrainOptions, trainedOn: Record<string, unknown>): LinearModel {
  const df = new Map<string, number>();
  for (const e of examples) for (const f of e.feats) df.set(f, (df.get(f) ?? 0) + 1);
  const vocab = [...df.entries()].filter(([, n]) => n >= o.minCount).map(([f]) => f).sort();
  const index = new Map(vocab.map((f, i) => [f, i]));
  const W = new Float64Array(vocab.length * K);
  const G = new Float64Array(vocab.length * K).fill(1e-8);
  const b = new Float64Array(K);
  const gb = new Float64Array(K).fill(1e-8);
  const counts = CLASSES.map((c) => examples.filter((e) => e.label === c).length);
  const classWeight = counts.map((n) => (n ? examples.length / (K * n) : 0));
  const rows = examples.map((e) => ({ ids: e.feats.map((f) => index.get(f)).filter((i): i is number => i !== undefined), y: CLASSES.indexOf(e.label) }));
  // The same data and seed give the same model.
  const random = mulberry32(o.seed);
  const order = rows.map((_, i) => i);
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const r of order) {
      const { ids, y } = rows[r]!;
      const scale = ids.length ? 1 / Math.sqrt(ids.length) : 0;
      const z = Array.from(b);
      for (const id of ids) for (let k = 0; k < K; k++) z[k]! += W[id * K + k]! * scale;
      const p = softmax(z);
      const cw = classWeight[y]!;
      for (let k = 0; k < K; k++) {
        const g = (p[k]! - (k === y ? 1 : 0)) * cw;
        gb[k]! += g * g;
        b[k]! -= (o.learningRate * g) / Math.sqrt(gb[k]!);
        for (const id of ids) {
          const at = id * K + k;
          const gw = g * scale + o.l2 * W[at]!;
          G[at]! += gw * gw;
          W[at]! -= (o.learningRate * gw) / Math.sqrt(G[at]!);
        }
      }
    }
  }
  const features: string[] = [];
  const weights: number[] = [];
  vocab.forEach((f, i) => {
    const row = Array.from(W.subarray(i * K, i * K + K), (v) => Math.round(v * 1e4) / 1e4);
    if (row.some((v) => Math.abs(v) >= o.prune)) {
      features.push(f);
      weights.push(...row);
    }
  });
  return {
    format: 'limit-graph/linear-text-classifier', version: 2, classes: CLASSES,
    bias: Array.from(b, (v) => Math.round(v * 1e4) / 1e4), features, weights,
    trainedOn: { ...trainedOn, examples: examples.length, perClass: Object.fromEntries(CLASSES.map((c, i) => [c, counts[i]])), features: features.length, options: o },
  };
}

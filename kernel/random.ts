/**
 * mulberry32: a tiny seeded generator, deterministic across platforms, for whatever must come out
 * the same on every run — a model trained from data (the governance classifier), generated test
 * problems, fuzz inputs and fixture files whose hash must be stable. Not for secrets.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * mulberry32: a tiny seeded generator, deterministic across platforms, so generated problems,
 * fuzz inputs and fixture files (whose hash must be stable) are the same on every run. It lives with
 * the conformance suites (shipped as limit-graph/testing), which generate their problems with it too.
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

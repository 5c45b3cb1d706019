/** The kernel's one walk for text that is not well-formed Unicode (inputs, HTTP bodies, artifacts). */
import { describe, expect, it } from 'vitest';
import { illFormedText, isWellFormed, mapStringsDeep, toWellFormed } from 'limit-graph';

const HALF = '\ud83d';

describe('illFormedText', () => {
  it('finds ill-formed values and keys in document order (a key before what it holds), with their paths', () => {
    const value = { a: 'ok 😀', b: [`x${HALF}`, { [`k${HALF}`]: { c: HALF } }], d: `\udc00` };
    expect(illFormedText(value)).toEqual([
      { path: ['b', 0], key: false },
      { path: ['b', 1, `k${HALF}`], key: true },
      { path: ['b', 1, `k${HALF}`, 'c'], key: false },
      { path: ['d'], key: false },
    ]);
    expect(illFormedText(value, 1)).toEqual([{ path: ['b', 0], key: false }]);
    expect(illFormedText({ a: 'whole pairs 😀', b: ['ä'] })).toEqual([]);
    expect(illFormedText(HALF)).toEqual([{ path: [], key: false }]);
  });

  it('walks plain objects and arrays only, each once: a cycle ends, a class instance is not entered', () => {
    const cyclic: Record<string, unknown> = { s: HALF };
    cyclic.self = cyclic;
    expect(illFormedText(cyclic)).toEqual([{ path: ['s'], key: false }]);
    expect(illFormedText({ signal: new AbortController().signal, date: new Date(), nul: Object.assign(Object.create(null), { x: HALF }) })).toEqual([{ path: ['nul', 'x'], key: false }]);
    const deep: unknown[] = [];
    let at = deep;
    for (let i = 0; i < 100_000; i++) at = (at[0] = []) as unknown[];
    at[0] = HALF;
    expect(illFormedText(deep)).toHaveLength(1);
  });

  it('isWellFormed / toWellFormed mend exactly what illFormedText finds', () => {
    const value = { [`k${HALF}`]: [`a${HALF}b`] };
    const mended = mapStringsDeep(value, toWellFormed);
    expect(mended).toEqual({ 'k\ufffd': ['a\ufffdb'] });
    expect(illFormedText(mended)).toEqual([]);
    expect([isWellFormed(HALF), isWellFormed('😀')]).toEqual([false, true]);
  });
});

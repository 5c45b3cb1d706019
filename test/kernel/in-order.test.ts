/**
 * allInOrder: Promise.all whose failure does not depend on timing — the first rejection in the
 * order given, whichever settled first — and whose values keep the order given.
 */
import { describe, expect, it } from 'vitest';
import { allInOrder } from 'limit-graph';

const after = <T>(ms: number, value: T, fail = false) =>
  new Promise<T>((resolve, reject) => setTimeout(() => (fail ? reject(new Error(String(value))) : resolve(value)), ms));

describe('allInOrder', () => {
  it('resolves with the values in the order given, whatever order they settle in', async () => {
    expect(await allInOrder([after(20, 'a'), after(1, 'b'), 'c'])).toEqual(['a', 'b', 'c']);
    expect(await allInOrder([])).toEqual([]);
  });

  it('rejects with the first rejection in the order given, not the first in time', async () => {
    // The first is the slow one: Promise.all would reject with "second".
    await expect(Promise.all([after(30, 'first', true), after(1, 'second', true)])).rejects.toThrow('second');
    await expect(allInOrder([after(30, 'first', true), after(1, 'second', true)])).rejects.toThrow('first');
    await expect(allInOrder([after(1, 'ok'), after(10, 'late', true), after(1, 'early', true)])).rejects.toThrow('late');
  });

  it('settles every promise before it rejects (none is left to fail unobserved)', async () => {
    let settled = false;
    const slow = after(20, 'slow').finally(() => (settled = true));
    await expect(allInOrder([Promise.reject(new Error('at once')), slow])).rejects.toThrow('at once');
    expect(settled).toBe(true);
  });
});

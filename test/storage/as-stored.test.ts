/**
 * asStored gives a record's JSON form (what JSON.parse(JSON.stringify(x)) gives back, an own
 * `__proto__` key kept as an own key) while keeping every subtree already in that form by reference:
 * a trace with a megabyte of stdout and one undefined-valued key elsewhere must not be copied whole.
 */
import { describe, expect, it } from 'vitest';
import { asStored } from 'limit-graph';

const asJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
const T0 = Date.UTC(2024, 0, 2, 3, 4, 5, 6);

class Point { constructor(public x: number, public y?: number) {} get sum() { return this.x + (this.y ?? 0); } }

function tricky(): Record<string, unknown> {
  const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, u: undefined, d: new Date(T0) });
  const withSymbol: Record<string | symbol, unknown> = { k: 'v', [Symbol('s')]: 1 };
  const subArray = new (class extends Array<unknown> {})();
  subArray.push(1, undefined, -0);
  return {
    keep: { a: [1, 'x', true, null], b: { c: 'deep' } },
    nested: { l1: { l2: { gone: undefined, fn: () => 1, sym: Symbol('x'), ok: 1 } } },
    dates: [{ when: { at: new Date(T0) } }, new Date(T0 + 1)],
    zeros: [0, -0, [-0], { z: -0 }],
    holes: [1, undefined, () => 2, Symbol('y'), , 5], // eslint-disable-line no-sparse-arrays
    point: new Point(1),
    points: [new Point(2, 3)],
    nullProto,
    withSymbol,
    subArray,
    toJson: { toJSON: (key: string) => ({ key, inner: new Date(T0), u: undefined }) },
    dropped: { toJSON: () => undefined },
    boxed: [new Number(-0), new String('s'), new Boolean(false)], // eslint-disable-line no-new-wrappers
    proto: JSON.parse('{"__proto__":{"polluted":true,"u":null},"a":{"__proto__":[1],"b":1}}') as unknown,
  };
}

describe('asStored', () => {
  it('equals the JSON round trip on tricky values (nested undefined, Dates deep inside, -0, class instances, null-prototype objects, __proto__ keys)', () => {
    const input = tricky();
    // Assigning an own `__proto__` data property sets the key (not the prototype): undefined, so JSON drops it.
    Object.assign(input, { protoGone: JSON.parse('{"__proto__":1,"k":2}') as Record<string, unknown> });
    (input.protoGone as Record<string, unknown>)['__proto__'] = undefined;
    const got = asStored(input);
    expect(got).toStrictEqual(asJson(input));
    expect(JSON.stringify(got)).toBe(JSON.stringify(input));
    // Every object and array of the result is plain, as JSON.parse makes it.
    const plain = (v: unknown): void => {
      if (typeof v !== 'object' || v === null) return;
      expect(Object.getPrototypeOf(v)).toBe(Array.isArray(v) ? Array.prototype : Object.prototype);
      expect(Object.getOwnPropertySymbols(v)).toEqual([]);
      for (const k of Object.keys(v)) plain((v as Record<string, unknown>)[k]);
    };
    plain(got);
    expect(Object.is((got.zeros as unknown[])[1], 0)).toBe(true);
    expect(Object.is(((got.zeros as unknown[])[2] as unknown[])[0], 0)).toBe(true);
    // An own `__proto__` key stays an own key and sets no prototype, also on a rebuilt object.
    const proto = got.proto as Record<string, unknown>;
    expect(Object.hasOwn(proto, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const rebuilt = asStored({ x: undefined, y: JSON.parse('{"__proto__":{"d":null},"z":1}') as unknown, w: Object.defineProperty({ u: undefined }, '__proto__', { value: { d: new Date(T0) }, enumerable: true }) });
    expect(rebuilt).toStrictEqual(asJson({ y: JSON.parse('{"__proto__":{"d":null},"z":1}') as unknown, w: JSON.parse(`{"__proto__":{"d":"${new Date(T0).toISOString()}"}}`) as unknown }));
    const w = rebuilt.w as Record<string, unknown>;
    expect(Object.hasOwn(w, '__proto__') && Object.getPrototypeOf(w)).toBe(Object.prototype);
    expect((Object.getOwnPropertyDescriptor(w, '__proto__')!.value as { d: unknown }).d).toBe(new Date(T0).toISOString());
  });

  it('keeps subtrees already in JSON form by reference, and builds new containers only along changed paths', () => {
    const input = tricky();
    const got = asStored(input);
    expect(got).not.toBe(input);
    expect(got.keep).toBe(input.keep);
    expect(got.proto).toBe(input.proto);
    const nested = got.nested as { l1: { l2: unknown } };
    expect(nested).not.toBe(input.nested);
    expect(nested.l1).not.toBe((input.nested as { l1: unknown }).l1);
    const dates = got.dates as unknown[];
    expect(dates).not.toBe(input.dates);
  });

  it('returns an already-JSON record itself, and keeps a large string by reference beside a changed key', () => {
    const stdout = 'x'.repeat(1 << 20);
    const record = { id: 'tr1', output: { ok: true, stdout, stderr: '', value: { n: 1, list: [1, 2, { a: null }] } }, metadata: {} };
    expect(asStored(record)).toBe(record);
    const loose = { ...record, output: { ...record.output, error: undefined } };
    const got = asStored(loose);
    expect(got).toStrictEqual(asJson(loose));
    expect(got.output).not.toHaveProperty('error');
    expect(got.output.value).toBe(record.output.value);
    expect(got.metadata).toBe(record.metadata);
    expect(got.output.stdout).toBe(stdout);
  });

  it('leaves out a top-level value JSON leaves out, and converts a top-level Date', () => {
    expect(asStored(undefined)).toBeUndefined();
    expect(asStored(new Date(T0))).toBe(new Date(T0).toISOString());
    expect(asStored(-0)).toBe(0);
  });
});

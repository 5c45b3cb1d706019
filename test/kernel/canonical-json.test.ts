import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256, mulberry32 } from 'limit-graph';

/** The reference: the canonicalize package (RFC 8785) on what JSON.stringify would write. */
const reference = (value: unknown) => canonicalize(JSON.parse(JSON.stringify(value)));

function randomValue(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * (depth > 3 ? 6 : 9));
  const strings = ['', 'a', 'é', '€', '😀', 'line\nbreak', 'quote"back\\slash', '\u0001\u001f', 'ünïcödé', '\u2028'];
  switch (pick) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789.123, Number.MAX_SAFE_INTEGER, 5e-324, Math.PI * 1e15][Math.floor(r() * 11)];
    case 3: return strings[Math.floor(r() * strings.length)];
    case 4: return [undefined, Number.NaN, Number.POSITIVE_INFINITY, new Date(Math.floor(r() * 2e12))][Math.floor(r() * 4)];
    case 5: return () => 1;
    case 6: return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = 0, n = Math.floor(r() * 5); i < n; i++) o[strings[Math.floor(r() * strings.length)]! + String(Math.floor(r() * 3))] = randomValue(r, depth + 1);
      return o;
    }
  }
}

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys, drops what JSON drops and writes numbers and strings as ECMAScript does', () => {
    expect(canonicalJson({ b: 1, a: [undefined, () => 1, Number.NaN], c: undefined, d: new Date(0), e: { toJSON: () => 'x' } }))
      .toBe('{"a":[null,null,null],"b":1,"d":"1970-01-01T00:00:00.000Z","e":"x"}');
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '1': 3, 'é': 4 })).toBe('{"\\r":2,"1":3,"é":4,"€":1}');
    expect(canonicalJson([1e21, 1e-7, -0, 0.000001])).toBe('[1e+21,1e-7,0,0.000001]');
  });

  it('equals the canonicalize package on JSON.parse(JSON.stringify(x)) for 5,000 random values', () => {
    const r = mulberry32(8785);
    for (let i = 0; i < 5000; i++) {
      const value = { root: randomValue(r) };
      expect(canonicalJson(value)).toBe(reference(value));
    }
  });

  it('refuses what cannot be canonical JSON: lone surrogates, BigInt, cycles, a bare undefined', () => {
    expect(() => canonicalJson({ s: 'a\uD800b' })).toThrow(/Lone surrogate/);
    expect(() => canonicalJson({ ['k\uDC00']: 1 })).toThrow(/Lone surrogate/);
    expect(() => canonicalJson({ n: 1n })).toThrow(/BigInt/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => canonicalJson(cycle)).toThrow(/Circular/);
    expect(() => canonicalJson(undefined)).toThrow(/not serialisable/);
  });
});

describe('sha256', () => {
  it('is the hex SHA-256 of the UTF-8 bytes (FIPS 180-2 vectors, non-ASCII text)', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256('é€😀')).toBe(createHash('sha256').update(Buffer.from('é€😀', 'utf8')).digest('hex'));
  });
});

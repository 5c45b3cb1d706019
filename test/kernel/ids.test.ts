import { describe, expect, it, vi } from 'vitest';
import { Id, newId } from 'limit-graph';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newId (UUIDv7 record ids)', () => {
  it('makes RFC 9562 version-7 ids that are valid record ids and carry the creation time', () => {
    const before = Date.now();
    const id = newId();
    expect(id).toMatch(UUID_V7);
    expect(Id.safeParse(id).success).toBe(true);
    const ms = Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
  });

  it('sorts in creation order and never repeats, also many ids within one millisecond', () => {
    vi.useFakeTimers({ now: new Date('2026-11-26T00:00:00.000Z'), toFake: ['Date'] });
    try {
      const ids = Array.from({ length: 20_000 }, () => newId());
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(ids);
      vi.setSystemTime(new Date('2026-11-26T00:00:00.001Z'));
      const next = newId();
      expect(next > ids.at(-1)!).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

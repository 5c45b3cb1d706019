/** PageBuilder and paginate: a page ends at `limit` items or at `maxBytes` of their JSON, whichever comes first. */
import { describe, expect, it } from 'vitest';
import { MAX_PAGE_BYTES, PageBuilder, decodeCursor, paginate } from 'limit-graph';

const T0 = Date.parse('2024-03-01T00:00:00.000Z');
const item = (i: number, text = '') => ({ id: `i${String(i).padStart(2, '0')}`, createdAt: new Date(T0 + i).toISOString(), text });
const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

describe('paging by count and by size', () => {
  it('PageBuilder takes rows until the count or the byte budget would be passed; the first row always', () => {
    const rows = [item(3, 'a'.repeat(100)), item(2, 'b'.repeat(100)), item(1, 'c'.repeat(100))];
    const page = new PageBuilder<ReturnType<typeof item>>(10, bytes(rows[0]) * 2);
    for (const r of rows) {
      if (!page.takes(bytes(r))) break;
      page.add(r, bytes(r));
    }
    const { items, nextCursor } = page.page();
    expect(items.map((r) => r.id)).toEqual(['i03', 'i02']);
    expect(decodeCursor(nextCursor!)).toEqual({ t: T0 + 2, id: 'i02' });
    // A budget smaller than one row still takes it, and nothing more.
    const tiny = new PageBuilder<ReturnType<typeof item>>(10, 1);
    expect(tiny.takes(1000)).toBe(true);
    tiny.add(rows[0]!, 1000);
    expect(tiny.takes(1)).toBe(false);
    expect(tiny.page().items).toHaveLength(1);
    // Everything taken: no cursor.
    const all = new PageBuilder<ReturnType<typeof item>>(3, MAX_PAGE_BYTES);
    for (const r of rows) if (all.takes(bytes(r))) all.add(r, bytes(r));
    expect(all.page().nextCursor).toBeNull();
  });

  it('paginate (backends that filter in memory) cuts by count and by bytes, and pages through everything', () => {
    const items = Array.from({ length: 10 }, (_, i) => item(i, 'x'.repeat(1000)));
    expect(paginate(items, 4).items.map((r) => r.id)).toEqual(['i09', 'i08', 'i07', 'i06']);
    const seen: string[] = [];
    let after: ReturnType<typeof decodeCursor> | undefined;
    for (;;) {
      const page = paginate(items, 100, after, 3 * bytes(items[0]));
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((r) => r.id));
      if (!page.nextCursor) break;
      after = decodeCursor(page.nextCursor);
    }
    expect(seen).toEqual(items.map((r) => r.id).reverse());
  });
});

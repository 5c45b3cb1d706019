/**
 * Promise.all, with an answer that does not depend on timing: it waits for every promise to settle,
 * then resolves with their values in the order given, or rejects with the reason of the first one
 * *in the order given* that rejected — not, as Promise.all does, whichever rejected first in time
 * (on a connection pool, or the file system, either of two failing lookups), so the same request
 * always gets the same error. For lookups and validations whose failure a caller sees.
 */
export async function allInOrder<T extends readonly unknown[] | []>(values: T): Promise<{ -readonly [P in keyof T]: Awaited<T[P]> }> {
  const settled = await Promise.allSettled(values);
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [P in keyof T]: Awaited<T[P]> };
}

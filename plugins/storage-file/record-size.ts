/**
 * The size check of a record stored together with its children — a trace with its flags, an RD
 * series with its points — by the contract's measure (kernel/contracts/storage.ts, "Record size"):
 * the record's JSON without the children's field, and each child alone, as the SQL backends store
 * them. storage-kv has the same helper (plugins/storage-kv/record-size.ts).
 */
import { LimitError } from 'limit-graph';

/** The error assertRecordSize (limit-graph) throws, for a size measured here. */
function tooLarge(what: string, bytes: number, maxBytes: number): LimitError {
  return new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `The ${what} is ${bytes} bytes as JSON; the limit is ${maxBytes} bytes`, {
    details: { record: what, bytes, maxBytes },
    fix: 'Store large outputs as files and reference them, or raise the backend option maxRecordBytes.',
  });
}

/**
 * Throws LIMIT_PAYLOAD_TOO_LARGE when the record without its `field` or one of its children is over
 * `maxBytes`. `text` is JSON.stringify(record), children included; `field` must be one of several
 * keys of the record (its children are `children`, serialised again only when the record is near
 * the limit; `childTexts`, when given, are their JSON texts). Nothing is serialised twice on the
 * common path: a text whose UTF-16 length is within a third of the limit is within it in bytes,
 * and so is every part of it.
 */
export function assertContainerSize(
  text: string, what: string, field: string, children: readonly unknown[], childWhat: string, maxBytes: number, childTexts?: readonly string[],
): void {
  if (text.length * 3 <= maxBytes) return;
  const texts = childTexts ?? children.map((c) => JSON.stringify(c));
  // `[a,b,c]`: the brackets and n - 1 commas.
  let childBytes = texts.length === 0 ? 2 : texts.length + 1;
  for (const t of texts) {
    const bytes = Buffer.byteLength(t, 'utf8');
    if (bytes > maxBytes) throw tooLarge(childWhat, bytes, maxBytes);
    childBytes += bytes;
  }
  // `"field":` plus the comma that separates it from a neighbouring key.
  const own = Buffer.byteLength(text, 'utf8') - (field.length + 4) - childBytes;
  if (own > maxBytes) throw tooLarge(what, own, maxBytes);
}

/**
 * RFC 4180 CSV with one extension borrowed from PostgreSQL's COPY … CSV: an unquoted empty field is
 * "absent" (null) and a quoted empty field ("") is the empty string. Optional fields of provenance
 * entries must round-trip exactly, or their hashes would not verify after a CSV export.
 *
 * Formula injection: a spreadsheet runs a cell that starts with = + - @ as a formula
 * (`=cmd|' /C calc'!A0`), and OWASP adds tab, CR (and ASVS NUL) as first characters. Whitespace
 * before a trigger is no protection either: LibreOffice's and Google Sheets' imports trim it
 * (` =1+1`, `\n@SUM(A1)`). So a cell whose first character is one of = + - @ tab CR LF NUL, or
 * whose first non-whitespace character is one of = + - @, is written with a leading single quote,
 * the usual escape, unless it is a plain number (`-1.5`). To keep the round trip exact, a cell that
 * already starts with quotes before such a start gets one more quote, and parsing removes exactly
 * one: encoding maps /^'*T/ to /^'+T/ one to one (T the start described above).
 */
export type CsvCell = string | null;

export function encodeCsv(header: readonly string[], rows: readonly CsvCell[][]): string {
  return csvLines(header, rows).join('');
}

/** The lines of encodeCsv's text, each ending in CRLF: to measure (or write) a large file before it is one string. */
export function csvLines(header: readonly string[], rows: readonly CsvCell[][]): string[] {
  const line = (cells: readonly CsvCell[]) => `${cells.map(encodeCell).join(',')}\r\n`;
  return [line(header), ...rows.map(line)];
}

const FORMULA = /^'*(?:[=+\-@\t\r\n\0]|\s+[=+\-@])/;
const ESCAPED_FORMULA = /^'+(?:[=+\-@\t\r\n\0]|\s+[=+\-@])/;
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The cell as written: formula-like text gets a leading single quote (see the file comment). */
export function escapeFormula(cell: string): string {
  return FORMULA.test(cell) && !PLAIN_NUMBER.test(cell) ? `'${cell}` : cell;
}

/** Inverse of escapeFormula. */
export function unescapeFormula(cell: string): string {
  return ESCAPED_FORMULA.test(cell) ? cell.slice(1) : cell;
}

function encodeCell(raw: CsvCell): string {
  if (raw === null) return '';
  const cell = escapeFormula(raw);
  if (cell === '' || /[",\r\n]/.test(cell) || cell.trim() !== cell) return `"${cell.replaceAll('"', '""')}"`;
  return cell;
}

/** Parses CSV text into rows of cells (null for unquoted empty fields). */
export function parseCsv(text: string): CsvCell[][] {
  const rows: CsvCell[][] = [];
  let row: CsvCell[] = [];
  let i = 0;
  const n = text.length;
  if (n === 0) return rows;
  for (;;) {
    let cell: CsvCell;
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new Error('unterminated quoted field');
        const c = text[i]!;
        if (c === '"') {
          if (text[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += c;
        i++;
      }
      cell = unescapeFormula(value);
    } else {
      let end = i;
      while (end < n && text[end] !== ',' && text[end] !== '\r' && text[end] !== '\n') end++;
      const raw = text.slice(i, end);
      if (raw.includes('"')) throw new Error(`stray quote in unquoted field at offset ${i}`);
      cell = raw === '' ? null : unescapeFormula(raw);
      i = end;
    }
    row.push(cell);
    if (i >= n) {
      rows.push(row);
      break;
    }
    const c = text[i];
    if (c === ',') {
      i++;
      continue;
    }
    if (c === '\r' && text[i + 1] === '\n') i += 2;
    else if (c === '\r' || c === '\n') i++;
    else throw new Error(`unexpected character ${JSON.stringify(c)} after a field at offset ${i}`);
    rows.push(row);
    row = [];
    if (i >= n) break;
  }
  return rows;
}

/** Rows as objects keyed by the header row. */
export function parseCsvObjects(text: string): Record<string, CsvCell>[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  return rows.map((r) => Object.fromEntries(header.map((h, j) => [h ?? '', r[j] ?? null])));
}

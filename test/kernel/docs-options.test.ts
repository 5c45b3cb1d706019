/**
 * Every built-in plugin's README documents exactly the options its zod schema takes: the first
 * column of the table under `## Options` names each option in backticks (`auth.mode` for a field of
 * an object option, `uidRangeStart`, `uidRangeSize` for two options on one row), and every name
 * there must be an option of the schema. Where the row gives a plain default (a number, `true` or
 * `false`, or a quoted or backticked word), it must be the schema's default; a number option's row
 * states the bounds its schema sets, as `1–86400000`, `≥ 1024` or `> 0`. So an option added,
 * renamed, removed or re-defaulted without its README fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const plugins = readdirSync(`${root}plugins`, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

interface Def { type: string; shape?: Record<string, unknown>; defaultValue?: unknown; innerType?: unknown; in?: unknown; schema?: unknown }
const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/** The object schema under defaults, optionals, pipes and refinements (undefined when there is none). */
function objectShape(schema: unknown): Record<string, unknown> | undefined {
  for (let s = schema, i = 0; s && i < 16; i++) {
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    if (shape) return shape;
    const d = defOf(s);
    s = d.innerType ?? d.in ?? d.schema;
  }
  return undefined;
}

/** The schema's own default for a field, if it has one: `{ found: false }` otherwise. */
function defaultOf(schema: unknown): { found: boolean; value?: unknown } {
  for (let s = schema, i = 0; s && i < 16; i++) {
    const d = defOf(s);
    if (d.type === 'default') return { found: true, value: typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue };
    s = d.innerType ?? d.in ?? d.schema;
  }
  return { found: false };
}

/**
 * The bounds a number field's schema sets, as the README writes them: `1–86400000` (both inclusive),
 * `≥ 1024`, `> 0`, `> 0.5, < 1`; undefined for a field that is not a bounded number.
 */
function rangeText(schema: unknown): string | undefined {
  for (let s = schema, i = 0; s && i < 16; i++) {
    const d = defOf(s) as Def & { checks?: { _zod: { def: { check: string; value: number; inclusive: boolean } } }[] };
    if (d.type === 'number') {
      let min: { value: number; inclusive: boolean } | undefined;
      let max: { value: number; inclusive: boolean } | undefined;
      for (const c of d.checks ?? []) {
        const cd = c._zod.def;
        if (cd.check === 'greater_than') min = cd;
        if (cd.check === 'less_than') max = cd;
      }
      if (min?.inclusive && max?.inclusive) return `${min.value}–${max.value}`;
      const parts = [min && `${min.inclusive ? '≥' : '>'} ${min.value}`, max && `${max.inclusive ? '≤' : '<'} ${max.value}`].filter(Boolean);
      return parts.length > 0 ? parts.join(', ') : undefined;
    }
    // A preprocess (decimalInt) is a pipe from a transform: its bounds are those of what it pipes to.
    s = d.innerType ?? (d.type === 'pipe' && defOf(d.in).type === 'transform' ? (d as Def & { out: unknown }).out : d.in) ?? d.schema;
  }
  return undefined;
}

interface Row { names: string[]; defaultCell: string | undefined; text: string; line: number }

/** The rows of the README's options table: the backticked names of the first column, and the `default` column. */
function optionRows(readme: string): Row[] {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => /^## Options\s*$/.test(l));
  if (start < 0) return [];
  const rows: Row[] = [];
  let defaultColumn = -1;
  for (let i = start + 1; i < lines.length && !lines[i]!.startsWith('## '); i++) {
    const line = lines[i]!;
    if (!line.startsWith('|')) {
      if (rows.length > 0) break; // the table has ended
      continue;
    }
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    if (cells[0] === 'option') {
      defaultColumn = cells.indexOf('default');
      continue;
    }
    if (/^-+$/.test(cells[0] ?? '')) continue;
    const names = [...cells[0]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    rows.push({ names, defaultCell: defaultColumn >= 0 ? cells[defaultColumn] : undefined, text: line, line: i + 1 });
  }
  return rows;
}

/** A default cell's plain value (`8787`, `` `false` ``, `'convex'`, `` `python` ``, `86400000` (1 day)), or undefined for anything else. */
function plainDefault(cell: string): string | undefined {
  const m = /^`?'?([\w.:/-]+)'?`?(?:\s+\([^)]*\))?$/.exec(cell.trim());
  return m?.[1];
}

describe('plugin READMEs document every option of the schema, and only those', () => {
  it('finds every plugin and its options schema (the scan itself works)', async () => {
    expect(plugins.length).toBeGreaterThanOrEqual(20);
    expect(plugins).toContain('runner-python');
  });

  for (const name of plugins) {
    it(`plugins/${name}/README.md`, async () => {
      const mod = (await import(`../../plugins/${name}/index.ts`)) as { default: unknown };
      const plugin = (typeof mod.default === 'function' ? (mod.default as () => unknown)() : mod.default) as { options?: unknown };
      const shape = plugin.options === undefined ? {} : objectShape(plugin.options);
      expect(shape, `${name}: options schema is not an object schema`).toBeDefined();
      const readme = readFileSync(`${root}plugins/${name}/README.md`, 'utf8');
      const rows = optionRows(readme);
      const where = (r: Row) => `plugins/${name}/README.md:${r.line}`;

      const documented = new Set<string>();
      const problems: string[] = [];
      for (const row of rows) {
        if (row.names.length === 0) problems.push(`${where(row)}: a row of the options table names no option in backticks`);
        for (const full of row.names) {
          const [top, ...rest] = full.split('.');
          documented.add(top!);
          let field: unknown = shape![top!];
          if (field === undefined) {
            problems.push(`${where(row)}: \`${full}\` is documented but is not an option of the schema`);
            continue;
          }
          for (const part of rest) {
            field = objectShape(field)?.[part];
            if (field === undefined) {
              problems.push(`${where(row)}: \`${full}\` is documented but \`${part}\` is not a field of that option`);
              break;
            }
          }
          if (field === undefined) continue;
          const range = rangeText(field);
          if (range !== undefined && !row.text.includes(range)) problems.push(`${where(row)}: \`${full}\` is documented without its bounds, which the row should state as "${range}"`);
          if (row.names.length > 1 || row.defaultCell === undefined) continue;
          const cell = plainDefault(row.defaultCell);
          const d = defaultOf(field);
          if (cell === undefined || !d.found || (d.value !== null && typeof d.value === 'object')) continue;
          if (cell !== String(d.value)) problems.push(`${where(row)}: \`${full}\` is documented with default ${row.defaultCell}, the schema's is ${JSON.stringify(d.value)}`);
        }
      }
      for (const key of Object.keys(shape!)) {
        if (!documented.has(key)) problems.push(`plugins/${name}/README.md: option \`${key}\` is missing from the options table under "## Options"`);
      }
      expect(problems).toEqual([]);
    });
  }
});

describe("README's configuration table lists the kernel's config fields, and only those", () => {
  it('README.md "## Configuration": every ConfigSchema field with its environment variable', async () => {
    const { ConfigSchema, KERNEL_ENV } = await import('../../kernel/index.ts');
    const readme = readFileSync(`${root}README.md`, 'utf8');
    const section = readme.split(/^## Configuration\s*$/m)[1]!.split(/^## /m)[0]!;
    const rows = section
      .split('\n')
      .filter((l) => /^\| `[\w$]+` \|/.test(l))
      .map((l) => l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
    const fields = rows.map((cells) => /^`([\w$]+)`$/.exec(cells[0]!)?.[1]);
    expect(fields.sort()).toEqual(Object.keys(ConfigSchema.shape).sort());
    // The environment column names each kernel variable on its field's row (and no other kernel variable).
    const envOfField = new Map(Object.entries(KERNEL_ENV).map(([variable, field]) => [field as string, variable]));
    for (const cells of rows) {
      const field = /^`([\w$]+)`$/.exec(cells[0]!)![1]!;
      const named = [...(cells[3] ?? '').matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!).filter((v) => v in KERNEL_ENV);
      expect(named, `README.md configuration table, row ${field}`).toEqual(envOfField.has(field) ? [envOfField.get(field)] : []);
    }
  });
});

/**
 * What the docs say comes "from `limit-graph`" is exported there: in every sentence of README.md,
 * docs/*.md and the plugins' READMEs that says so, each code span naming an identifier
 * (`postgresUrl()`, `SessionIdleSweeper`, `mergeCallOptions(options, call, …)`) must be a value the
 * package exports (kernel/index.ts), or a type it exports. A helper renamed or dropped from the public
 * API while the docs still send plugin authors to it fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as api from '../../kernel/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const files = [
  'README.md',
  ...readdirSync(`${root}docs`).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(`${root}plugins`).map((p) => `plugins/${p}/README.md`),
];

/** Type names the package exports (interfaces and type aliases of the kernel's modules). */
function exportedTypes(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(`${dir}/${e.name}`);
      else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(`${dir}/${e.name}`, 'utf8').matchAll(/^export (?:interface|type|declare class|abstract class) (\w+)/gm)) names.add(m[1]!);
      }
    }
  };
  walk(`${root}kernel`);
  return names;
}

/**
 * Each "from `limit-graph`" with the code spans it is said of: those right before it, joined only by
 * commas, "and", "or", "/" and brackets (`` `a` and `b` (both from `limit-graph`) ``, `` (`detectKnee`, from `limit-graph`) ``).
 */
function claims(file: string): { line: number; names: string[] }[] {
  const text = readFileSync(`${root}${file}`, 'utf8').replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, (b) => b.replace(/[^\n]/g, ''));
  const out: { line: number; names: string[] }[] = [];
  for (const m of text.matchAll(/from `limit-graph`/g)) {
    const before = text.slice(Math.max(0, m.index - 400), m.index);
    const spans = [...before.matchAll(/`([^`\n]+)`/g)];
    const names: string[] = [];
    let end = before.length;
    for (let i = spans.length - 1; i >= 0; i--) {
      const span = spans[i]!;
      const gap = before.slice(span.index + span[0].length, end);
      if (!/^[\s,()/]*(?:(?:and|or|both)[\s,()/]+)*$/.test(gap)) break;
      const name = /^([A-Za-z_]\w*)(?:\(.*\))?$/.exec(span[1]!)?.[1];
      if (name) names.push(name);
      end = span.index;
    }
    out.push({ line: text.slice(0, m.index).split('\n').length, names });
  }
  return out;
}

describe('docs: what they say is exported from limit-graph is', () => {
  const types = exportedTypes();
  it('finds the claims (the scan itself works)', () => {
    const all = files.flatMap((f) => claims(f).flatMap((c) => c.names));
    expect(all).toEqual(expect.arrayContaining(['postgresUrl', 'SessionIdleSweeper', 'mergeCallOptions', 'detectKnee', 'registerKneeCommands']));
  });
  for (const file of files) {
    it(file, () => {
      const missing = claims(file).flatMap((c) => c.names.filter((n) => !(n in api) && !types.has(n)).map((n) => `${file}:${c.line}: \`${n}\` is said to come from limit-graph, which does not export it`));
      expect(missing).toEqual([]);
    });
  }
});

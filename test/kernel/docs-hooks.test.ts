/**
 * The README's Hooks table has a row for every hook of the catalogue, and the `cliCommands` row names
 * every member of CommandRegistry (what a CLI command's tap receives), so a member added to the
 * registry cannot go undocumented.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHookCatalogue } from '../../kernel/hooks.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');
const table = readme.slice(readme.indexOf('### Hooks'), readme.indexOf('### Container and sessions'));
/** Each row's first cell (hook names) → the whole row. */
const rows = table.split('\n').filter((l) => l.startsWith('| `'));

describe('README: the Hooks table', () => {
  it('has a row for every hook', () => {
    const named = rows.flatMap((r) => [...r.split('|')[1]!.matchAll(/`(\w+)`/g)].map((m) => m[1]!));
    expect(named.sort()).toEqual(Object.keys(createHookCatalogue()).sort());
  });

  it('the cliCommands row names every member of CommandRegistry', () => {
    const source = readFileSync(`${root}kernel/hooks.ts`, 'utf8');
    const body = /export interface CommandRegistry \{([\s\S]*?)\n\}/.exec(source)![1]!;
    const members = [...body.matchAll(/^ {2}(?:readonly )?(\w+)(\()?/gm)].map((m) => (m[2] ? `${m[1]}(` : m[1]!));
    expect(members).toEqual(expect.arrayContaining(['program', 'runtime(', 'print(', 'printStderr(', 'signal', 'untilStopped(']));
    const row = rows.find((r) => r.startsWith('| `cliCommands` |'))!;
    const spans = [...row.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const missing = members.filter((m) => !spans.some((s) => (m.endsWith('(') ? s.startsWith(m) : s === m)));
    expect(missing).toEqual([]);
  });
});

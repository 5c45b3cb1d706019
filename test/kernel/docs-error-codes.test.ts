/**
 * Every code of the error catalogue (kernel/errors.ts) is one a user can meet and look up: the
 * kernel or a plugin uses it (a code nothing throws is dead weight that clients would wait for), and
 * README.md, docs/*.md or a plugin's README names it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ERROR_CODES } from 'limit-graph';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(`${root}${file}`, 'utf8');

const docs = [
  'README.md',
  ...readdirSync(`${root}docs`).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(`${root}plugins`).map((p) => `plugins/${p}/README.md`).filter((f) => { try { read(f); return true; } catch { return false; } }),
].map(read).join('\n');

/** The .ts sources of kernel/ and plugins/ (tests left out), errors.ts itself left out. */
function sources(dir: string): string[] {
  return readdirSync(`${root}${dir}`, { withFileTypes: true }).flatMap((e) => {
    const file = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(file);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && file !== 'kernel/errors.ts' ? [read(file)] : [];
  });
}
const code = [...sources('kernel'), ...sources('plugins')].join('\n');
const codes = Object.keys(ERROR_CODES);
const named = (text: string, c: string) => new RegExp(`\\b${c}\\b`).test(text);

it('the catalogue is read (the scan itself works)', () => {
  expect(codes.length).toBeGreaterThan(40);
  expect(codes).toContain('LIMIT_PLUGIN_SETUP_FAILED');
});

it('every catalogue code is used by the kernel or a plugin', () => {
  expect(codes.filter((c) => !named(code, c))).toEqual([]);
});

it('every catalogue code is named in the docs', () => {
  expect(codes.filter((c) => !named(docs, c))).toEqual([]);
});

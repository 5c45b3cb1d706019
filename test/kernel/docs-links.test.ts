/**
 * The relative links of the project's Markdown (README.md, docs/*.md, each plugin's README) lead
 * somewhere: the file or folder exists, and a `#fragment` into a Markdown file names one of its
 * headings (GitHub's anchor for it: lower case, punctuation dropped, spaces as hyphens, a `-1`,
 * `-2`, … suffix for repeats). Links to the web and `mailto:` are not checked, nor links inside code.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const files = [
  'README.md',
  ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(path.join(root, 'plugins'))
    .filter((p) => existsSync(path.join(root, 'plugins', p, 'README.md')))
    .map((p) => `plugins/${p}/README.md`),
].sort();

/** The text without fenced code blocks and inline code spans (their brackets are not links). */
const prose = (text: string) =>
  text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, (block) => block.replace(/[^\n]/g, '')).replace(/`[^`\n]*`/g, '``');

/** GitHub's anchors of a Markdown file's headings. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = readFileSync(file, 'utf8').replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, '');
  for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

describe('docs: relative links resolve', () => {
  it('finds the Markdown files and their links (the scan itself works)', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/storage.md');
    expect(files).toContain('plugins/runner-python/README.md');
    expect(anchors(path.join(root, 'README.md'))).toContain('writing-a-plugin');
  });

  for (const file of files) {
    it(file, () => {
      const text = prose(readFileSync(path.join(root, file), 'utf8'));
      const broken: string[] = [];
      for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
        const line = text.slice(0, m.index).split('\n').length;
        const [rel, fragment] = target.split('#') as [string, string | undefined];
        const to = rel === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), decodeURIComponent(rel));
        if (!existsSync(to)) {
          broken.push(`${file}:${line}: ${target} — no such file`);
          continue;
        }
        if (fragment && to.endsWith('.md') && statSync(to).isFile() && !anchors(to).has(decodeURIComponent(fragment).toLowerCase())) {
          broken.push(`${file}:${line}: ${target} — no heading with anchor #${fragment} in ${path.relative(root, to)}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }
});

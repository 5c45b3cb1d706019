/** The shared CLI helpers: numeric options, validated input files and `--out` files. */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isLimitError, parseInput, parseNumberOption, parseTextOption, pathText, unpaddedText, writeOutputFile, writeOutputFolder } from '../../kernel/index.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-cli-helpers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejection(promise: Promise<unknown>) {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(isLimitError(error), String(error)).toBe(true);
  return error as Error & { code: string; fix: string };
}

describe('parseNumberOption', () => {
  it('reads plain decimal numbers', () => {
    expect(parseNumberOption('--alpha', '0.5')).toBe(0.5);
    expect(parseNumberOption('--alpha', '-1e-3')).toBe(-0.001);
    expect(parseNumberOption('--n', '7', { integer: true })).toBe(7);
    expect(() => parseNumberOption('--n', ' 7 ', { integer: true })).toThrow('--n must be an integer, got " 7 "');
  });

  it.each(['', '  ', 'abc', '0x10', 'NaN', 'Infinity', '1,5', '1_0'])('refuses %j instead of reading 0 or NaN', (value) => {
    expect(() => parseNumberOption('--alpha', value)).toThrow(/--alpha must be a number, got /);
  });

  it('checks integers and ranges and takes the caller’s code', () => {
    expect(() => parseNumberOption('--rounds', '1.5', { integer: true, min: 1 })).toThrow('--rounds must be an integer ≥ 1, got "1.5"');
    expect(() => parseNumberOption('--alpha', '2', { min: 0, max: 1 })).toThrow('--alpha must be a number from 0 to 1, got "2"');
    expect(() => parseNumberOption('--alpha', '', { code: 'LIMIT_RD_INVALID_INPUT' })).toThrow(expect.objectContaining({
      code: 'LIMIT_RD_INVALID_INPUT', details: expect.objectContaining({ field: '--alpha', value: '' }),
    }));
  });
});

describe('parseTextOption', () => {
  it('takes a value the option schema takes, and refuses the rest naming the option', () => {
    expect(parseTextOption('--python', 'python3', unpaddedText('an interpreter name or path'))).toBe('python3');
    expect(() => parseTextOption('--python', '', unpaddedText('an interpreter name or path'))).toThrow('--python is empty');
    expect(() => parseTextOption('--python', 'python3 ', unpaddedText('an interpreter name or path'))).toThrow('--python: Expected an interpreter name or path without leading or trailing spaces, received "python3 "');
    let error: unknown;
    try {
      parseTextOption('--dir', '~/x', pathText());
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'LIMIT_VALIDATION', details: { field: '--dir', value: '~/x' }, message: expect.stringMatching(/^--dir: Expected a path not starting with "~"/) });
  });
});

describe('parseInput', () => {
  it('names the source and the path of each wrong field', () => {
    const schema = z.object({ p: z.array(z.number()), d: z.array(z.number()).optional() });
    expect(parseInput(schema, { p: [1] }, 'f.json')).toEqual({ p: [1] });
    expect(() => parseInput(schema, { p: [1, 'x'] }, 'f.json')).toThrow('f.json › p.1: Expected number, received string');
    expect(() => parseInput(schema, { d: 'x' }, 'f.json')).toThrow(/f\.json is invalid:\n {2}f\.json › p: .*\n {2}f\.json › d: /);
  });
});

describe('writeOutputFile', () => {
  it('writes a new file, creating missing parent folders, and leaves no temporary file', async () => {
    const out = path.join(dir, 'new', 'deep', 'a.txt');
    await writeOutputFile(out, 'one');
    expect(readFileSync(out, 'utf8')).toBe('one');
    expect(readdirSync(path.dirname(out))).toEqual(['a.txt']);
  });

  it('refuses to overwrite an existing file unless forced', async () => {
    const out = path.join(dir, 'existing.txt');
    writeFileSync(out, 'precious');
    const error = await rejection(writeOutputFile(out, 'new'));
    expect(error.message).toBe(`--out ${out}: already exists`);
    expect(error.fix).toContain('--force');
    expect(readFileSync(out, 'utf8')).toBe('precious');
    await writeOutputFile(out, 'new', { force: true });
    expect(readFileSync(out, 'utf8')).toBe('new');
  });

  it('refuses a folder, a parent that is a file, and protected paths even when forced', async () => {
    expect((await rejection(writeOutputFile(dir, 'x'))).message).toContain('is a folder');
    const file = path.join(dir, 'plain.txt');
    writeFileSync(file, 'keep');
    expect((await rejection(writeOutputFile(path.join(file, 'x.svg'), 'x'))).message).toContain('a part of its folder path is a file');
    const protect = [{ path: file, what: 'the input file' }, { path: path.join(dir, 'store'), what: 'the live store', folder: true }];
    expect((await rejection(writeOutputFile(file, 'x', { force: true, protect }))).message).toContain('would overwrite the input file');
    const link = path.join(dir, 'link.txt');
    symlinkSync(file, link);
    expect((await rejection(writeOutputFile(path.join(dir, '.', 'link.txt'), 'x', { force: true, protect }))).message).toContain('the input file');
    expect((await rejection(writeOutputFile(path.join(dir, 'store', 'x.db'), 'x', { force: true, protect }))).message).toContain('lies inside the live store');
    expect(readFileSync(file, 'utf8')).toBe('keep');
  });
});

describe('writeOutputFolder', () => {
  const files = [{ path: 'a.csv', content: 'a' }, { path: 'b.csv', content: 'b' }];

  it('creates the folder, refuses a file in its place and earlier files unless forced', async () => {
    const out = path.join(dir, 'export');
    expect(await writeOutputFolder(out, files)).toEqual([path.join(out, 'a.csv'), path.join(out, 'b.csv')]);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const again = await rejection(writeOutputFolder(out, files));
    expect(again.message).toBe(`--out ${out}: already holds a.csv, b.csv`);
    await writeOutputFolder(out, [{ path: 'a.csv', content: 'A' }], { force: true });
    expect(readFileSync(path.join(out, 'a.csv'), 'utf8')).toBe('A');
    const file = path.join(dir, 'not-a-folder');
    writeFileSync(file, 'keep');
    expect((await rejection(writeOutputFolder(file, files, { force: true }))).message).toContain('exists and is not a folder');
    expect(readFileSync(file, 'utf8')).toBe('keep');
    mkdirSync(path.join(dir, 'empty'));
    await writeOutputFolder(path.join(dir, 'empty'), files);
    expect(readdirSync(path.join(dir, 'empty')).sort()).toEqual(['a.csv', 'b.csv']);
  });

  it('into an existing folder writes every file or none: a later file that cannot be written leaves the earlier ones as they were', async () => {
    const out = path.join(dir, 'existing');
    mkdirSync(out);
    writeFileSync(path.join(out, 'manifest.json'), 'old manifest');
    writeFileSync(path.join(out, 'a.csv'), 'old a');
    const held = () => Object.fromEntries(readdirSync(out).sort().map((n) => [n, readFileSync(path.join(out, n), 'utf8')]));
    const before = held();
    // The second file cannot be written at all (its folder is missing): nothing is renamed into place.
    const unwritable = await rejection(writeOutputFolder(out, [{ path: 'manifest.json', content: 'new' }, { path: 'a.csv', content: 'new' }, { path: 'missing/b.csv', content: 'new' }], { force: true }));
    expect(unwritable.message).toBe(`--out ${path.join(out, 'missing/b.csv')}: cannot be written (ENOENT); nothing was changed`);
    expect(held()).toEqual(before);
    // Written, but its rename is refused (a name that must be a folder) after the first two are in place: they are put back.
    const unplaceable = await rejection(writeOutputFolder(out, [{ path: 'manifest.json', content: 'new' }, { path: 'a.csv', content: 'new' }, { path: 'c.csv/', content: 'new' }], { force: true }));
    expect(unplaceable.message).toBe(`--out ${path.join(out, 'c.csv/')}: cannot be written (ENOTDIR); nothing was changed`);
    expect(held()).toEqual(before);
    // A new file among the replaced ones is removed again.
    await rejection(writeOutputFolder(out, [{ path: 'a.csv', content: 'new' }, { path: 'd.csv', content: 'new' }, { path: 'e.csv/', content: 'new' }], { force: true }));
    expect(held()).toEqual(before);
    expect(await writeOutputFolder(out, [{ path: 'manifest.json', content: 'new' }, { path: 'a.csv', content: 'new' }, { path: 'b.csv', content: 'new' }], { force: true })).toHaveLength(3);
    expect(held()).toEqual({ 'a.csv': 'new', 'b.csv': 'new', 'manifest.json': 'new' });
  });
});

/**
 * storage-kv over damaged data: a damaged data.mdb is refused at open with LIMIT_STORAGE_CORRUPT
 * naming the file (not a SIGSEGV/SIGBUS inside LMDB), a damaged record value or schema marker with
 * LIMIT_STORAGE_CORRUPT naming the store and the key (not a raw SyntaxError or a silent NaN).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeFlag, makeProvenance, makeSession, makeTrace } from 'limit-graph/testing';
import { KvStorage } from '../../plugins/storage-kv/index.ts';

type Key = (string | number)[];

const openStore = async (dir: string): Promise<KvStorage> => {
  const s = new KvStorage({ path: dir, noSync: true, maxRecordBytes: 1 << 20 });
  await s.open();
  return s;
};

/** Writes raw values through a second LMDB handle, as a disk fault or a hand edit would leave them. */
async function putRaw(dir: string, entries: [Key, string][]): Promise<void> {
  const db = open<string, Key>({ path: dir, encoding: 'string' });
  try {
    await db.transaction(() => {
      for (const [key, value] of entries) db.put(key, value);
    });
  } finally {
    await db.close();
  }
}

/** Resolves to the LimitError a promise rejected with, failing when it resolved or threw anything else. */
async function corrupt(promise: Promise<unknown>): Promise<{ message: string; details?: Record<string, unknown> }> {
  const outcome = await promise.then((value) => ({ value }), (error: unknown) => ({ error }));
  if (!('error' in outcome)) throw new Error(`expected LIMIT_STORAGE_CORRUPT, got ${JSON.stringify(outcome.value)?.slice(0, 200)}`);
  expect(outcome.error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT' });
  return outcome.error as { message: string; details?: Record<string, unknown> };
}

describe('storage-kv: a damaged record value', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'limit-kv-damage-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is LIMIT_STORAGE_CORRUPT naming the store and the key, on every read and write that parses it', async () => {
    let s = await openStore(dir);
    await s.createSession(makeSession('t1', 's1'));
    for (const id of ['tr1', 'tr2']) await s.createTrace(makeTrace('t1', id, 's1'));
    await s.appendProvenance('t1', makeProvenance('tr1', 0));
    await s.addFlag('t1', makeFlag('f1', 'tr1'));
    const at = new Date().toISOString();
    await s.addCheckpoint('t1', { traceId: 'tr1', label: 'input', passed: true, details: {}, at });
    await s.setQuarantine('t1', { traceId: 'tr1', quarantined: true, reason: 'manual', actor: 'alice', at });
    await s.createRdSeries({ id: 'rd1', tenant: 't1', sessionId: 's1', name: 'rd', createdAt: at, points: [], metadata: {} });
    await s.close();

    const garbage = 'ZZZZ{not json';
    const damaged: Key[] = [['s', 't1', 's1'], ['t', 't1', 'tr1'], ['p', 't1', 'tr1', 0], ['f', 't1', 1], ['c', 't1', 'tr1', 1], ['q', 't1', 'tr1'], ['rd', 't1', 'rd1']];
    await putRaw(dir, damaged.map((key) => [key, garbage]));
    s = await openStore(dir);
    try {
      const calls: [string, Key, () => Promise<unknown>][] = [
        ['getSession', ['s', 't1', 's1'], () => s.getSession('t1', 's1')],
        ['listSessions', ['s', 't1', 's1'], () => s.listSessions('t1')],
        ['getTrace', ['t', 't1', 'tr1'], () => s.getTrace('t1', 'tr1')],
        ['listTraces', ['t', 't1', 'tr1'], () => s.listTraces('t1')],
        ['updateTrace', ['t', 't1', 'tr1'], () => s.updateTrace('t1', 'tr1', { status: 'error' })],
        ['addFlag', ['t', 't1', 'tr1'], () => s.addFlag('t1', makeFlag('f2', 'tr1'))],
        ['listProvenance', ['p', 't1', 'tr1', 0], () => s.listProvenance('t1', 'tr1')],
        ['verifyProvenance', ['p', 't1', 'tr1', 0], () => s.verifyProvenance('t1', 'tr1')],
        ['appendProvenance', ['p', 't1', 'tr1', 0], () => s.appendProvenance('t1', makeProvenance('tr1', 1))],
        ['listFlags', ['f', 't1', 1], () => s.listFlags('t1')],
        ['listFlags by trace', ['f', 't1', 1], () => s.listFlags('t1', { traceId: 'tr1' })],
        ['listCheckpoints', ['c', 't1', 'tr1', 1], () => s.listCheckpoints('t1', 'tr1')],
        ['getQuarantine', ['q', 't1', 'tr1'], () => s.getQuarantine('t1', 'tr1')],
        ['listQuarantined', ['q', 't1', 'tr1'], () => s.listQuarantined('t1')],
        ['getRdSeries', ['rd', 't1', 'rd1'], () => s.getRdSeries('t1', 'rd1')],
        ['listRdSeries', ['rd', 't1', 'rd1'], () => s.listRdSeries('t1')],
        ['listRdSeries by session', ['rd', 't1', 'rd1'], () => s.listRdSeries('t1', { sessionId: 's1' })],
        ['appendRdPoint', ['rd', 't1', 'rd1'], () => s.appendRdPoint('t1', 'rd1', { step: 0, rate: 1, distortion: 0.5 })],
      ];
      for (const [name, key, call] of calls) {
        const error = await corrupt(call());
        expect(error.message, name).toContain(dir);
        expect(error.message, name).toContain(JSON.stringify(key));
        expect(error.message, name).toContain('not valid JSON');
        expect(error.details, name).toMatchObject({ path: dir, key, tenant: 't1' });
      }
      // Undamaged records of the tenant stay readable; the refused writes wrote nothing.
      expect(await s.getTrace('t1', 'tr2')).toMatchObject({ id: 'tr2', status: 'ok' });
      expect(await s.listProvenance('t1', 'tr2')).toEqual([]);
    } finally {
      await s.close();
    }
    const db = open<string, Key>({ path: dir, encoding: 'string' });
    try {
      for (const key of damaged) expect(db.get(key), JSON.stringify(key)).toBe(garbage);
      expect(db.get(['p', 't1', 'tr1', 1])).toBeUndefined();
    } finally {
      await db.close();
    }
  });

  it('a value that parses to something other than a record (null, a number, an array) is damage too, not a missing record', async () => {
    let s = await openStore(dir);
    await s.createSession(makeSession('t1', 's1'));
    await s.createTrace(makeTrace('t1', 'tr1', 's1'));
    await s.close();
    for (const value of ['null', '42', '[]']) {
      await putRaw(dir, [[['t', 't1', 'tr1'], value]]);
      s = await openStore(dir);
      try {
        for (const call of [() => s.getTrace('t1', 'tr1'), () => s.listTraces('t1'), () => s.updateTrace('t1', 'tr1', { status: 'error' })]) {
          const error = await corrupt(call());
          expect(error.message, value).toContain('["t","t1","tr1"]');
          expect(error.message, value).toContain(`its value ${value} is not a record`);
        }
        await expect(s.createTrace(makeTrace('t1', 'tr1', 's1'))).rejects.toMatchObject({ code: 'LIMIT_CONFLICT' });
      } finally {
        await s.close();
      }
      const db = open<string, Key>({ path: dir, encoding: 'string' });
      try {
        expect(db.get(['t', 't1', 'tr1'])).toBe(value);
      } finally {
        await db.close();
      }
    }
  });
});

describe('storage-kv: a damaged counter value', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'limit-kv-counter-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is LIMIT_STORAGE_CORRUPT on read and on increment (not NaN, not overwritten); sound counters keep working', async () => {
    let s = await openStore(dir);
    await s.incrementCounters('t1', { good: 2.5, bad: 1 });
    await s.close();
    await putRaw(dir, [[['n', 't1', 'bad'], 'abc']]);
    s = await openStore(dir);
    try {
      for (const call of [() => s.getCounters('t1'), () => s.incrementCounters('t1', { bad: 1 }), () => s.batch('t1', [{ op: 'incrementCounters', deltas: { good: 1, bad: 1 } }])]) {
        const error = await corrupt(call());
        expect(error.message).toContain(dir);
        expect(error.message).toContain('["n","t1","bad"]');
        expect(error.message).toContain('"abc" is not a number');
      }
      await s.incrementCounters('t1', { good: 1, other: 1e308 });
      await expect(s.incrementCounters('t1', { other: 1e308 })).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringMatching(/^Counter "other" would leave the finite numbers .*; nothing was written$/) });
      expect(await s.getCounters('t2')).toEqual({});
    } finally {
      await s.close();
    }
    const db = open<string, Key>({ path: dir, encoding: 'string' });
    try {
      expect(db.get(['n', 't1', 'bad'])).toBe('abc');
      expect(db.get(['n', 't1', 'good'])).toBe('3.5');
      expect(db.get(['n', 't1', 'other'])).toBe('1e+308');
    } finally {
      await db.close();
    }
  });
});

describe('storage-kv: a damaged schema-version marker', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'limit-kv-schema-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['abc', '{}', '', '1.5', 'NaN', '-1', '0', ' 1', '1e0'])('refuses %j at open with LIMIT_STORAGE_CORRUPT naming the key and the value, and leaves it as it is', async (marker) => {
    const s = await openStore(dir);
    await s.createTrace(makeTrace('t1', 'tr1', 's1'));
    await s.close();
    await putRaw(dir, [[['meta', 'schema'], marker]]);
    const error = await corrupt(openStore(dir));
    expect(error.message).toContain(dir);
    expect(error.message).toContain('["meta","schema"]');
    expect(error.message).toContain(`holds ${JSON.stringify(marker)}`);
    const db = open<string, Key>({ path: dir, encoding: 'string' });
    try {
      expect(db.get(['meta', 'schema'])).toBe(marker);
      expect(db.get(['t', 't1', 'tr1'])).toBeDefined();
    } finally {
      await db.close();
    }
  });

  it('refuses a store that holds records but lost its marker (LIMIT_STORAGE_CORRUPT), instead of opening it as a new one, and leaves it as it is', async () => {
    const s = await openStore(dir);
    await s.createTrace(makeTrace('t1', 'tr1', 's1'));
    await s.close();
    const db = open<string, Key>({ path: dir, encoding: 'string' });
    await db.remove(['meta', 'schema']);
    await db.close();
    const error = await corrupt(openStore(dir));
    expect(error.message).toContain(dir);
    expect(error.message).toContain('holds records');
    expect(error.message).toContain('no schema-version marker (key ["meta","schema"])');
    const after = open<string, Key>({ path: dir, encoding: 'string' });
    try {
      expect(after.get(['meta', 'schema'])).toBeUndefined();
    } finally {
      await after.close();
    }
    // Once the marker is put back as the fix says, it opens with its records.
    await putRaw(dir, [[['meta', 'schema'], '1']]);
    const again = await openStore(dir);
    expect(await again.getTrace('t1', 'tr1')).toMatchObject({ id: 'tr1' });
    await again.close();
  });

  it('still opens a store whose marker is the version, and records it on a new one', async () => {
    const s = await openStore(dir);
    expect(await s.schemaVersion()).toBe(1);
    await s.close();
    const again = await openStore(dir);
    expect(await again.schemaVersion()).toBe(1);
    await again.close();
  });
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Opens `dir` in a child process (open-child.ts): a crash in LMDB shows as a signal, not a dead test runner. */
function openInChild(dir: string, noSync = false): Promise<{ code: number | null; signal: NodeJS.Signals | null; result?: Record<string, unknown>; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./open-child.ts', import.meta.url)), dir, noSync ? 'noSync' : ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.trim().split('\n').pop();
      resolve({ code, signal, stderr, ...(line ? { result: JSON.parse(line) as Record<string, unknown> } : {}) });
    });
  });
}

describe('storage-kv: a damaged data.mdb', () => {
  let root: string;
  let base: string;
  let pageSize: number;
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'limit-kv-file-'));
    base = path.join(root, 'base');
    const s = await openStore(base);
    for (let b = 0; b < 4; b++) {
      await s.batch('t1', Array.from({ length: 50 }, (_, i) => ({
        op: 'createTrace' as const, trace: makeTrace('t1', `tr${b * 50 + i}`, 's1', Date.UTC(2024, 0, 1) + b * 50 + i, { metadata: { blob: 'x'.repeat(500 + i * 90) } }),
      })));
    }
    // Last, a value of several pages: it takes the pages at the end of the file, which stay in use.
    await s.createTrace(makeTrace('t1', 'big', 's1', Date.UTC(2024, 0, 2), { metadata: { blob: 'y'.repeat(40_000) } }));
    await s.close();
    pageSize = readFileSync(path.join(base, 'data.mdb')).readUInt32LE(24 + 24); // MDB_meta.mm_psize in meta page 0
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A copy of the base store with its data.mdb damaged by `damage`. */
  function damaged(name: string, damage: (file: string, bytes: Buffer) => void): string {
    const dir = path.join(root, name.replace(/\W+/g, '-'));
    cpSync(base, dir, { recursive: true });
    const file = path.join(dir, 'data.mdb');
    damage(file, readFileSync(file));
    return dir;
  }
  const write = (file: string, bytes: Buffer) => writeFileSync(file, bytes);
  // MDB_meta starts after the 24-byte page header: mm_version @4, mm_psize @24, mm_flags @28, mm_last_pg @120.
  const inMetas = (bytes: Buffer, offset: number, set: (at: number) => void) => {
    for (const page of [0, pageSize / 2, pageSize]) set(page + 24 + offset); // meta 0, the synced copy, meta 1
    return bytes;
  };

  const cases: [string, (file: string, bytes: Buffer) => void, RegExp][] = [
    ['a text file', (file) => writeFileSync(file, 'not lmdb\n'.repeat(100)), /meta page 0 is not an LMDB meta page \(magic number 0x6e0a6264/],
    ['garbage over both meta pages', (file, b) => write(file, b.fill(0x41, 0, 2 * pageSize)), /meta page 0 is not an LMDB meta page/],
    ['garbage in meta page 1', (file, b) => write(file, b.fill(0x41, pageSize, pageSize + 200)), /meta page 1 is not an LMDB meta page/],
    ['another LMDB data format', (file, b) => write(file, (b.writeUInt32LE(1, 24 + 4), b)), /meta page 0 records LMDB data format version 1; this lmdb reads version 2/],
    ['a page size LMDB cannot have', (file, b) => write(file, inMetas(b, 24, (at) => b.writeUInt32LE(3000, at))), /page size of 3000 bytes/],
    ['the encryption flag', (file, b) => write(file, inMetas(b, 28, (at) => b.writeUInt16LE(b.readUInt16LE(at) | 0x2000, at))), /encrypted/],
    ['a last page beyond the map', (file, b) => write(file, inMetas(b, 120, (at) => b.writeBigUInt64LE(1n << 50n, at))), /records page 1125899906842624 as its last, beyond its map size/],
    ['garbage in the synced meta copy', (file, b) => write(file, b.fill(0x41, pageSize / 2, pageSize)), /the synced meta copy in page 0 records a page size/],
    ['truncated to half', (file) => truncateSync(file, Math.floor(statSync(file).size / 2 / pageSize) * pageSize), /past the end of the file/],
    ['its last page cut off', (file) => truncateSync(file, statSync(file).size - pageSize), /past the end of the file/],
    ['cut in the middle of a page', (file) => truncateSync(file, statSync(file).size - 100), /not a whole number of \d+-byte pages/],
    ['shorter than two pages', (file) => truncateSync(file, pageSize + 100), /shorter than its two meta pages/],
  ];

  it('is refused at open with LIMIT_STORAGE_CORRUPT naming the file and the damage, never a crash, and left untouched', async () => {
    const dirs = cases.map(([name, damage]) => damaged(name, damage));
    const before = dirs.map((dir) => readFileSync(path.join(dir, 'data.mdb')));
    const outcomes = await Promise.all(dirs.map((dir) => openInChild(dir)));
    // One comparison for all cases, so that a failure shows every case's outcome.
    const seen = outcomes.map(({ code, signal, result }, i) => ({
      damage: cases[i]![0], signal, code, error: result?.code,
      message: result?.message,
      unchanged: readFileSync(path.join(dirs[i]!, 'data.mdb')).equals(before[i]!),
    }));
    expect(seen).toEqual(cases.map(([damage, , problem], i) => ({
      damage, signal: null, code: 1, error: 'LIMIT_STORAGE_CORRUPT',
      message: expect.stringMatching(new RegExp(`^${escape(path.join(dirs[i]!, 'data.mdb'))} is not a usable LMDB data file: .*${problem.source}`)),
      unchanged: true,
    })));
  }, 60_000);

  it('opens the undamaged store, with and without noSync', async () => {
    const dir = damaged('copy', () => undefined);
    for (const noSync of [false, true]) expect(await openInChild(dir, noSync)).toMatchObject({ signal: null, code: 0, result: { opened: true, traces: 201 } });
  }, 60_000);

  it('opens a sound store whose file ends before its last page (pages freed by the transaction that took them are never written)', async () => {
    const dir = path.join(root, 'short');
    const db = open<string, Key>({ path: dir, encoding: 'string' });
    const file = path.join(dir, 'data.mdb');
    // mm_last_pg of the newer meta page (by mm_txnid) against the file's pages.
    const lacking = () => {
      const b = readFileSync(file);
      const newer = b.readBigUInt64LE(24 + 128) >= b.readBigUInt64LE(pageSize + 24 + 128) ? 0 : pageSize;
      return Number(b.readBigUInt64LE(newer + 24 + 120)) + 1 - b.length / pageSize;
    };
    // Large values put and removed again in one transaction leave their freed pages past the end.
    for (let round = 0; round < 30; round++) {
      await db.transaction(() => {
        // A store as the plugin writes it (a store with records and no marker is refused, see above).
        db.put(['meta', 'schema'], '1');
        db.put(['keep', round], 'k'.repeat(100));
        for (let i = 0; i < 20; i++) db.put(['tmp', i], 'z'.repeat(30_000 + round));
        for (let i = 0; i < 20; i++) db.remove(['tmp', i]);
      });
      if (lacking() > 0) break;
    }
    await db.close();
    expect(lacking()).toBeGreaterThan(0);
    for (const noSync of [false, true]) expect(await openInChild(dir, noSync)).toMatchObject({ signal: null, code: 0, result: { opened: true, traces: 0 } });
  }, 60_000);
});

describe('storage-kv: a folder where LMDB expects its files', () => {
  it('is refused at open with LIMIT_STORAGE_CORRUPT naming data.mdb or lock.mdb, never a crash, and left as it is', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'limit-kv-nonfile-'));
    try {
      const outcomes = await Promise.all(['data.mdb', 'lock.mdb'].map(async (name) => {
        const dir = path.join(root, `store-${name}`);
        mkdirSync(path.join(dir, name), { recursive: true });
        const { code, signal, result } = await openInChild(dir);
        return { name, code, signal, error: result?.code, message: result?.message, stillAFolder: statSync(path.join(dir, name)).isDirectory() };
      }));
      // Before: both reached lmdb-js and came back LIMIT_STORAGE_UNAVAILABLE with a bare EISDIR / "Is a
      // directory" — when the process survived: lmdb-js's failed open with a folder at lock.mdb kills it
      // (SIGSEGV) in some runs (every run of open-child.ts from a shell).
      expect(outcomes).toEqual(['data.mdb', 'lock.mdb'].map((name) => ({
        name, code: 1, signal: null, error: 'LIMIT_STORAGE_CORRUPT',
        message: `${path.join(root, `store-${name}`, name)} is not a file (a folder), so the folder is not a usable LMDB store; it was left as it is`,
        stillAFolder: true,
      })));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});

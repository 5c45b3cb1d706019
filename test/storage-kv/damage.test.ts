/**
 * storage-kv over damaged data: a damaged record value or schema marker is refused with
 * LIMIT_STORAGE_CORRUPT naming the store and the key, never a raw SyntaxError or a silent NaN.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
      await expect(s.incrementCounters('t1', { other: 1e308 })).rejects.toMatchObject({ code: 'LIMIT_VALIDATION' });
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

  it('still opens a store whose marker is the version, and records it on a new one', async () => {
    const s = await openStore(dir);
    expect(await s.schemaVersion()).toBe(1);
    await s.close();
    const again = await openStore(dir);
    expect(await again.schemaVersion()).toBe(1);
    await again.close();
  });
});

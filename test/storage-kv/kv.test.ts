import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { createRuntime, type Storage } from 'limit-graph';
import { crashTest, multiProcessProvenance, multiProcessRdSteps, storageConformance, makeProvenance, makeSession, makeTrace, type StorageFixture } from 'limit-graph/testing';
import storageKv, { KvStorage } from '../../plugins/storage-kv/index.ts';
import { msOf } from '../../plugins/storage-kv/kv-storage.ts';

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'limit-kv-'));

const openStore = async (dir: string, noSync = false): Promise<KvStorage> => {
  const s = new KvStorage({ path: dir, noSync, maxRecordBytes: 4 * 1024 * 1024 });
  await s.open();
  return s;
};

/** Rewrites a stored provenance entry through a second LMDB handle, as someone with the files would. */
function tamper(dir: string) {
  return async (tenant: string, traceId: string, seq: number, patch: Record<string, unknown>) => {
    const db = open<string, (string | number)[]>({ path: dir, encoding: 'string' });
    try {
      const key = ['p', tenant, traceId, seq];
      const text = db.get(key);
      if (text === undefined) throw new Error(`no provenance entry ${key.join('/')}`);
      await db.put(key, JSON.stringify({ ...JSON.parse(text), ...patch }));
    } finally {
      await db.close();
    }
  };
}

storageConformance('storage-kv', async (): Promise<StorageFixture> => {
  const dir = tempDir();
  return {
    storage: await openStore(dir),
    reopen: () => openStore(dir),
    tamper: tamper(dir),
    // As a store written before ['pb', tenant, traceId] existed.
    forgetProvenanceTotals: async (tenant, traceId) => {
      const db = open<string, (string | number)[]>({ path: dir, encoding: 'string' });
      try {
        await db.remove(['pb', tenant, traceId]);
      } finally {
        await db.close();
      }
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}, { supports: { multiProcess: true, crashSafe: true, transactions: true } });

describe('storage-kv plugin', () => {
  it("measures a chain from its entries when its total (['pb', tenant, traceId]) is missing or not its head's: a store written before it existed", async () => {
    const dir = tempDir();
    try {
      const max = 4 * 1024 * 1024;
      const entry = (i: number, bytes: number) => makeProvenance('tr1', i, { data: 'x'.repeat(bytes) });
      const first = await openStore(dir);
      await first.createTrace(makeTrace('t', 'tr1', 's1'));
      await first.appendProvenance('t', entry(0, Math.floor(max * 0.9)));
      await first.appendProvenance('t', entry(1, Math.floor(max * 0.9)));
      await first.close();
      const raw = () => open<string, (string | number)[]>({ path: dir, encoding: 'string' });
      let db = raw();
      await db.remove(['pb', 't', 'tr1']);
      await db.close();
      let s = await openStore(dir);
      // 1.8 of the 2 × maxRecordBytes a client may fill are held: measured, a client's 0.3 more is refused.
      await expect(s.appendProvenance('t', entry(2, Math.floor(max * 0.3)), { origin: 'client' })).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
      await s.appendProvenance('t', entry(2, Math.floor(max * 0.05)), { origin: 'client' });
      const exact = (await s.listProvenance('t', 'tr1')).reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0);
      await s.close();
      db = raw();
      expect(JSON.parse(db.get(['pb', 't', 'tr1'])!)).toEqual({ seq: 2, bytes: exact });
      // A total left behind by an older head (an append by a version without it) is not trusted either.
      await db.put(['pb', 't', 'tr1'], JSON.stringify({ seq: 1, bytes: 0 }));
      await db.close();
      s = await openStore(dir);
      await expect(s.appendProvenance('t', entry(3, Math.floor(max * 0.2)), { origin: 'client' })).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is selected by storage: "kv", opens in boot under <dataDir>/kv, reports health and closes on dispose', async () => {
    const dir = tempDir();
    try {
      const rt = await createRuntime({ config: { logLevel: 'silent', storage: 'kv', dataDir: dir, plugins: {} }, env: {} });
      const storage = rt.resolve('storage') as KvStorage;
      expect(storage.backend).toBe('kv');
      expect(storage.supports).toEqual({ multiProcess: true, crashSafe: true, transactions: true });
      expect(storage.path).toBe(path.join(dir, 'kv'));
      expect(await storage.schemaVersion()).toBe(1);
      const [health] = await rt.health();
      expect(health).toMatchObject({ plugin: 'storage-kv', status: 'ok', checks: [expect.objectContaining({ name: 'read-write', status: 'ok' })] });
      await rt.close();
      await expect(storage.getTrace('t', 'x')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: `KV storage ${path.join(dir, 'kv')} is not open` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is selected by STORAGE_BACKEND=kv from the environment', async () => {
    const dir = tempDir();
    try {
      const rt = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, env: { STORAGE_BACKEND: 'kv', LIMIT_DATA_DIR: dir } });
      const storage = rt.resolve('storage') as KvStorage;
      expect(storage.backend).toBe('kv');
      expect(rt.plugins.map((p) => p.name)).toContain('storage-kv');
      await storage.createSession(makeSession('t1', 's1'));
      expect(await storage.getSession('t1', 's1')).toMatchObject({ id: 's1' });
      await rt.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes path and noSync from the environment and refuses a bad boolean', async () => {
    const dir = tempDir();
    try {
      const rt = await createRuntime({
        config: { logLevel: 'silent', plugins: {} }, plugins: [storageKv],
        env: { LIMIT_KV_PATH: path.join(dir, 'elsewhere'), LIMIT_KV_NO_SYNC: 'true' },
      });
      const storage = rt.resolve('storage') as KvStorage;
      expect(storage.path).toBe(path.join(dir, 'elsewhere'));
      expect(storage.config.noSync).toBe(true);
      await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
      expect(await storage.getTrace('t1', 'tr1')).toMatchObject({ id: 'tr1' });
      await rt.close();
      await expect(createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [storageKv], env: { LIMIT_KV_NO_SYNC: 'maybe' } }))
        .rejects.toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID', message: expect.stringContaining('noSync') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a store written by a newer schema version', async () => {
    const dir = tempDir();
    try {
      const s = await openStore(dir);
      await s.close();
      const db = open<string, (string | number)[]>({ path: dir, encoding: 'string' });
      await db.put(['meta', 'schema'], '99');
      await db.close();
      await expect(openStore(dir)).rejects.toMatchObject({ code: 'LIMIT_STORAGE_MIGRATION_FAILED', message: expect.stringContaining('99') });
      // Refused before this version changes anything of it: the folder keeps the mode it had.
      chmodSync(dir, 0o755);
      await expect(openStore(dir)).rejects.toMatchObject({ code: 'LIMIT_STORAGE_MIGRATION_FAILED', details: { schemaVersion: 99, knownVersion: 1 } });
      expect(statSync(dir).mode & 0o777).toBe(0o755);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sees writes of another handle on the same folder (what several processes share)', async () => {
    const dir = tempDir();
    const a = await openStore(dir);
    const b = new KvStorage({ path: dir, noSync: false, maxRecordBytes: 1 << 20 });
    await b.open();
    try {
      await a.createTrace(makeTrace('t1', 'tr1', 's1'));
      await b.appendProvenance('t1', { traceId: 'tr1', at: new Date().toISOString(), actor: 'b', action: 'x' });
      await a.appendProvenance('t1', { traceId: 'tr1', at: new Date().toISOString(), actor: 'a', action: 'x' });
      expect((await b.listProvenance('t1', 'tr1')).map((e) => e.seq)).toEqual([0, 1]);
      // b's read snapshot was just taken; a's commit must still be visible to b's next read at once.
      expect(await b.getTrace('t1', 'tr2')).toBeNull();
      await a.createTrace(makeTrace('t1', 'tr2', 's1'));
      expect(await b.getTrace('t1', 'tr2')).toMatchObject({ id: 'tr2' });
      expect((await b.listTraces('t1')).items.map((t) => t.id)).toEqual(['tr2', 'tr1']);
      // A commit by another environment handle (as another process makes) with no event-loop turn in between.
      const raw = open<string, (string | number)[]>({ path: dir, encoding: 'string' });
      expect(await b.getTrace('t1', 'tr3')).toBeNull();
      raw.putSync(['t', 't1', 'tr3'], JSON.stringify(makeTrace('t1', 'tr3', 's1')));
      expect(await b.getTrace('t1', 'tr3')).toMatchObject({ id: 'tr3' });
      await raw.close();
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('close() commits the writes requested before it, then refuses calls (no TypeError, nothing dropped)', async () => {
    const dir = tempDir();
    try {
      for (const noSync of [false, true]) {
        const s = await openStore(dir, noSync);
        const tenant = `t-${noSync}`;
        const writes = [
          ...Array.from({ length: 20 }, (_, i) => s.createTrace(makeTrace(tenant, `tr${i}`, 's1'))),
          s.batch(tenant, Array.from({ length: 20 }, (_, i) => ({ op: 'createTrace' as const, trace: makeTrace(tenant, `b${i}`, 's1') }))),
          s.createSession(makeSession(tenant, 's1')),
        ];
        const closed = s.close();
        await expect(s.getTrace(tenant, 'tr0')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: `KV storage ${dir} is not open` });
        await expect(s.createTrace(makeTrace(tenant, 'late', 's1'))).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: `KV storage ${dir} is not open` });
        const results = await Promise.allSettled(writes);
        expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
        await closed;
        const again = await openStore(dir, noSync);
        try {
          expect((await again.listTraces(tenant, { limit: 100 })).items).toHaveLength(40);
          expect(await again.getSession(tenant, 's1')).toMatchObject({ id: 's1' });
          expect(await again.getTrace(tenant, 'late')).toBeNull();
        } finally {
          await again.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('storage-kv across processes', () => {
  it('keeps one gapless chain when 3 processes append to one trace at once', async () => {
    const dir = tempDir();
    try {
      const r = await multiProcessProvenance({ plugin: 'storage-kv', options: { path: dir } }, { processes: 3, appendsEach: 100 });
      expect(r.seqs).toEqual(Array.from({ length: 300 }, (_, i) => i));
      expect(r.verification).toEqual({ verified: true, length: 300, brokenAt: null });
      expect(r.perWriter).toEqual({ 'process-0': 100, 'process-1': 100, 'process-2': 100 });
      // Every round of 5 appends was released to the 3 writers at once: 20 races, each round one block
      // of the stored order after the one before, holding all 3 writers (so at least 2 switches a round).
      expect(r.rounds).toEqual({ writersPerRound: Array(20).fill(3), ordered: true });
      expect(r.switches).toBeGreaterThanOrEqual(2 * 20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('gives every RD point appended without step by 3 processes at once its own step, consecutive', async () => {
    const dir = tempDir();
    try {
      const r = await multiProcessRdSteps({ plugin: 'storage-kv', options: { path: dir } }, { processes: 3, appendsEach: 60 });
      expect(r.steps).toEqual(Array.from({ length: 180 }, (_, i) => i));
      expect(r.perWriter).toEqual({ 'process-0': 60, 'process-1': 60, 'process-2': 60 });
      // Every round of 5 appends was released to the 3 writers at once: 12 races, each round one block
      // of the stored order after the one before, holding all 3 writers (so at least 2 switches a round).
      expect(r.rounds).toEqual({ writersPerRound: Array(12).fill(3), ordered: true });
      expect(r.switches).toBeGreaterThanOrEqual(2 * 12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('keeps every acknowledged write after SIGKILL and reopens cleanly', async () => {
    const dir = tempDir();
    try {
      const r = await crashTest({ plugin: 'storage-kv', options: { path: dir } }, { minAcks: 150 });
      expect(r.signal).toBe('SIGKILL');
      expect(r.acknowledged.length).toBeGreaterThanOrEqual(150);
      expect(r.missing).toEqual([]);
      expect(r.verification.verified).toBe(true);
      expect(r.verification.length).toBeGreaterThanOrEqual(r.acknowledged.length);
      expect(r.counter).toBeGreaterThanOrEqual(r.acknowledged.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('storage-kv: a commit the file system refuses', () => {
  it('a full disk (here a file size limit: EFBIG) fails the write with LIMIT_STORAGE_UNAVAILABLE naming data.mdb, stores nothing of it, and the process keeps running', async () => {
    const dir = tempDir();
    try {
      // A child under `ulimit -f` (256 KiB): the data file cannot grow past it, as on a full disk.
      const child = spawn('bash', ['-c', 'ulimit -f 256 && exec "$0" --import tsx "$1" "$2"', process.execPath, fileURLToPath(new URL('./full-child.ts', import.meta.url)), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' });
      const [batch, creates, after] = out.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
      const file = path.join(dir, 'data.mdb');
      for (const step of [batch!, creates!]) {
        expect(step.error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file, path: dir } });
        expect(step.error.message).toMatch(new RegExp(`^The LMDB store ${file} could not commit a write: .*; the transaction was rolled back, nothing of it is stored$`));
      }
      expect(after).toEqual({ step: 'after', counters: { n: 1 }, b0: null, c0: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('storage-kv batch path', () => {
  it('reads canonical timestamps digit by digit exactly as Date.parse does, and leaves other forms to it', () => {
    const samples = ['2024-02-29T23:59:59.999Z', '1970-01-01T00:00:00.000Z', '0100-03-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '1969-12-31T23:59:59.999Z'];
    // Deterministic spread over 0100–9999 (a seeded LCG, not Math.random: a failure must reproduce).
    let x = 12345;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      samples.push(new Date(-58_000_000_000_000 + (x / 2 ** 31) * 311_000_000_000_000).toISOString());
    }
    for (const iso of samples) expect(msOf(iso), iso).toBe(Date.parse(iso));
    // Years below 100 (Date.UTC would shift them to 19xx), offsets and other precisions go to Date.parse.
    for (const iso of ['0050-06-01T00:00:00.000Z', '2024-01-01T01:00:00.000+01:00', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00.12345Z']) {
      expect(msOf(iso), iso).toBe(Date.parse(iso));
    }
    // Out-of-range fields: Date.parse's verdict (NaN → LIMIT_VALIDATION, or its roll-over), never Date.UTC's.
    for (const iso of ['2024-02-30T00:00:00.000Z', '2023-04-31T10:00:00.000Z', '2024-01-01T24:00:00.000Z']) expect(msOf(iso), iso).toBe(Date.parse(iso));
    for (const iso of ['2024-13-01T00:00:00.000Z', '2024-00-10T00:00:00.000Z', '2024-01-32T00:00:00.000Z', '2024-01-01T23:60:00.000Z', '2024-01-01T23:00:60.000Z', '2024-01-0aT00:00:00.000Z']) {
      expect(() => msOf(iso), iso).toThrow(/Invalid timestamp/);
    }
  });

  it('keeps index entries in op order: a status update after creates in one batch is what lists see', async () => {
    const dir = tempDir();
    const s = await openStore(dir, true);
    try {
      const at = Date.UTC(2024, 0, 1);
      await s.batch('t1', [
        { op: 'createTrace', trace: makeTrace('t1', 'tr1', 's1', at, { status: 'running' }) },
        { op: 'createTrace', trace: makeTrace('t1', 'tr2', 's1', at + 1, { status: 'running' }) },
        { op: 'updateTrace', id: 'tr1', patch: { status: 'ok' } },
        { op: 'createTrace', trace: makeTrace('t1', 'tr3', 's1', at + 2, { status: 'running' }) },
        { op: 'updateTrace', id: 'tr3', patch: { status: 'error' } },
      ]);
      const ids = async (q: Parameters<KvStorage['listTraces']>[1]) => (await s.listTraces('t1', q)).items.map((t) => t.id);
      expect(await ids({ status: 'ok' })).toEqual(['tr1']);
      expect(await ids({ sessionId: 's1', status: 'running' })).toEqual(['tr2']);
      expect(await ids({ sessionId: 's1', status: 'error' })).toEqual(['tr3']);
      expect(await ids({ sessionId: 's1' })).toEqual(['tr3', 'tr2', 'tr1']);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs concurrent batches whole: a failing one (oversized or conflicting) writes nothing, the others land', async () => {
    const dir = tempDir();
    const s = new KvStorage({ path: dir, noSync: true, maxRecordBytes: 2048 });
    await s.open();
    try {
      const traces = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => makeTrace('t1', `${prefix}${i}`, `s${i % 3}`, Date.UTC(2024, 0, 1) + i));
      const ops = (ts: ReturnType<typeof traces>) => ts.map((trace) => ({ op: 'createTrace' as const, trace }));
      const big = makeTrace('t1', 'big', 's0', Date.UTC(2024, 0, 1), { metadata: { blob: 'x'.repeat(4096) } });
      const results = await Promise.allSettled([
        s.batch('t1', ops(traces('a', 300))),
        s.batch('t1', [...ops(traces('b', 300)), { op: 'createTrace', trace: big }]),
        s.batch('t1', ops(traces('c', 300))),
        s.batch('t1', [...ops(traces('d', 300)), { op: 'createTrace', trace: makeTrace('t1', 'a0', 's0') }]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
      expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', message: expect.stringMatching(/^batch op 300 \(createTrace\): .*bytes as JSON; the limit is 2048 bytes/) });
      expect((results[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'LIMIT_CONFLICT', message: 'batch op 300 (createTrace): A trace "a0" already exists in tenant "t1"', details: { index: 300 } });
      for (const [prefix, present] of [['a', true], ['b', false], ['c', true], ['d', false]] as const) {
        expect(await s.getTrace('t1', `${prefix}0`) !== null, prefix).toBe(present);
        expect(await s.getTrace('t1', `${prefix}299`) !== null, prefix).toBe(present);
      }
      // Index entries (stored from shared byte buffers) read back as statuses: 200 traces in s0.
      const page = await s.listTraces('t1', { sessionId: 's0', status: 'ok', limit: 1000 });
      expect(page.items).toHaveLength(200);
      expect(page.items.every((t) => t.sessionId === 's0' && (t.id.startsWith('a') || t.id.startsWith('c')))).toBe(true);
      expect((await s.listTraces('t1', { status: 'error' })).items).toEqual([]);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

export type { Storage };

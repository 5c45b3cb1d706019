/**
 * Storage throughput per backend, each next to the raw driver doing the same work with the same
 * durability settings in the same run (same tables and indexes, one JSON text per record, the same
 * transaction per batch, the same hash-chain computation), reported as a ratio: the best figure of
 * the interleaved rounds (`plugin`, `raw`, `ratio`) and the rounds' median (`median`).
 *
 *   npx tsx bench/storage.ts [--backends sqlite,postgres,file,kv] [--scale 1] [--rounds 3]
 *   npm run bench -- storage
 *
 * PostgreSQL: LIMIT_BENCH_DATABASE_URL, else LIMIT_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test;
 * runs in a schema of its own that is dropped afterwards. kv: raw lmdb-js with the plugin's own open
 * options (same durability: every acknowledged write flushed, unless LIMIT_BENCH_KV_NO_SYNC=true for
 * both). file: raw node:fs writing the same files the same way (temp + fsync + rename + folder fsync,
 * a journal per batch, a datasync per provenance append).
 */
import { constants, existsSync, mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { open as openLmdb } from 'lmdb';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { LimitError, MAX_PROVENANCE_PER_TRACE, createRuntime, isLimitError, nextProvenanceEntry, optionalNumberOption, rawOption, type ProvenanceInput, type Storage, type Trace } from 'limit-graph';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../plugins/storage-sqlite/migrations.ts';
import { MIGRATIONS as PG_MIGRATIONS } from '../plugins/storage-postgres/migrations.ts';
import { lmdbOptions } from '../plugins/storage-kv/kv-storage.ts';
import { runAsScript } from './_script.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PG_URL = process.env.LIMIT_BENCH_DATABASE_URL ?? process.env.LIMIT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface Sizes {
  single: number;
  batches: number;
  batchSize: number;
  reads: number;
  lists: number;
  appends: number;
}

const T0 = Date.parse('2024-01-01T00:00:00.000Z');
const SESSIONS = 20;
let ROUNDS = 3;

function makeTrace(i: number, prefix: string): Trace {
  return {
    id: `${prefix}-${i}`, sessionId: `s${i % SESSIONS}`, tenant: 'bench', parentIds: [], runner: 'python',
    task: { input: `print(${i} * 2)`, kind: 'code', language: 'python' },
    output: { ok: true, stdout: `${i * 2}\n`, stderr: '' }, metrics: { latencyMs: 12.5 },
    status: 'ok', flags: [], createdAt: new Date(T0 + i).toISOString(), completedAt: new Date(T0 + i + 12).toISOString(), metadata: { bench: true },
  };
}

function provInput(traceId: string, i: number): ProvenanceInput {
  return { traceId, at: new Date(T0 + i).toISOString(), actor: 'bench', action: 'step', operation: 'update', data: { i } };
}

/** ops/s of `count` operations run by `fn`. */
async function rate(count: number, fn: () => Promise<void> | void): Promise<number> {
  const start = performance.now();
  await fn();
  const s = (performance.now() - start) / 1000;
  return Math.round(count / s);
}

/** The work every contestant does, so the plugin and the raw driver are timed on identical steps. */
export interface Contestant {
  insertOne(t: Trace): Promise<void> | void;
  insertBatch(ts: Trace[]): Promise<void> | void;
  get(id: string): Promise<unknown> | unknown;
  listBySession(sessionId: string): Promise<unknown> | unknown;
  append(input: ProvenanceInput): Promise<unknown> | unknown;
  createTrace?(t: Trace): Promise<void> | void;
}

export async function measure(c: Contestant, sizes: Sizes, prefix: string) {
  // Warm-up: JIT, statement caches, pool connections.
  for (let i = 0; i < 50; i++) await c.insertOne(makeTrace(i, `${prefix}w`));
  const single = await rate(sizes.single, async () => {
    for (let i = 0; i < sizes.single; i++) await c.insertOne(makeTrace(i, `${prefix}s`));
  });
  const batches = Array.from({ length: sizes.batches }, (_, b) => Array.from({ length: sizes.batchSize }, (_, k) => makeTrace(b * sizes.batchSize + k, `${prefix}b`)));
  // Process CPU time next to wall time: on a shared machine the wall clock also counts time spent
  // waiting for a core, the CPU time only this process's own work (for PostgreSQL, the client's).
  const cpu0 = process.cpuUsage();
  const batched = await rate(sizes.batches * sizes.batchSize, async () => {
    for (const batch of batches) await c.insertBatch(batch);
  });
  const cpu = process.cpuUsage(cpu0);
  const batchedCpu = Math.round((sizes.batches * sizes.batchSize) / ((cpu.user + cpu.system) / 1e6));
  const total = sizes.batches * sizes.batchSize;
  const reads = await rate(sizes.reads, async () => {
    for (let i = 0; i < sizes.reads; i++) await c.get(`${prefix}b-${(i * 7919) % total}`);
  });
  const lists = await rate(sizes.lists, async () => {
    for (let i = 0; i < sizes.lists; i++) await c.listBySession(`s${i % SESSIONS}`);
  });
  // Onto the traces of the single inserts, MAX_PROVENANCE_PER_TRACE entries each: a chain holds no
  // more (past --scale 10 the appends fill a trace and go on to the next). Each is still one entry
  // appended onto a chain read for its head, at most 10,000 entries long.
  const appends = await rate(sizes.appends, async () => {
    for (let i = 0; i < sizes.appends; i++) await c.append(provInput(`${prefix}s-${Math.floor(i / MAX_PROVENANCE_PER_TRACE)}`, i));
  });
  return {
    singleInsertsPerSec: single, batchedInsertsPerSec: batched, batchedInsertsPerClientCpuSec: batchedCpu,
    pointReadsPerSec: reads, listBySessionPerSec: lists, provenanceAppendsPerSec: appends,
  };
}

type Figures = Awaited<ReturnType<typeof measure>>;

/** Per metric, `pick` over the rounds' figures. */
function combine(rounds: Figures[], pick: (values: number[]) => number): Figures {
  return Object.fromEntries(Object.keys(rounds[0]!).map((k) => [k, pick(rounds.map((f) => f[k as keyof Figures]))])) as Figures;
}

const median = (values: number[]): number => {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : Math.round((v[mid - 1]! + v[mid]!) / 2);
};

/**
 * Alternates plugin and raw rounds: the machine is shared, and interleaving exposes both
 * contestants to the same background load. Reports each one's best figure per metric and, since a
 * best-of hides how noisy the rounds were, the median too.
 */
async function duel(plugin: Contestant, raw: Contestant, sizes: Sizes, rounds: number) {
  const runs: { plugin: Figures[]; raw: Figures[] } = { plugin: [], raw: [] };
  for (let r = 0; r < rounds; r++) {
    runs.plugin.push(await measure(plugin, sizes, `p${r}`));
    runs.raw.push(await measure(raw, sizes, `r${r}`));
  }
  const best = { plugin: combine(runs.plugin, (v) => Math.max(...v)), raw: combine(runs.raw, (v) => Math.max(...v)) };
  const mid = { plugin: combine(runs.plugin, median), raw: combine(runs.raw, median) };
  return { ...best, median: { ...mid, ratio: ratios(mid.plugin, mid.raw) } };
}

function ratios(plugin: Figures, raw: Figures): Record<string, number> {
  return Object.fromEntries(Object.keys(plugin).map((k) => [k, Math.round((plugin[k as keyof Figures] / raw[k as keyof Figures]) * 100) / 100]));
}

function pluginContestant(s: Storage): Contestant {
  return {
    insertOne: async (t) => void (await s.createTrace(t)),
    insertBatch: (ts) => s.batch('bench', ts.map((trace) => ({ op: 'createTrace', trace }))),
    get: (id) => s.getTrace('bench', id),
    listBySession: (sessionId) => s.listTraces('bench', { sessionId, limit: 50 }),
    append: (input) => s.appendProvenance('bench', input),
  };
}

function traceJson(t: Trace): string {
  const { flags: _f, ...rest } = t;
  return JSON.stringify(rest);
}

async function benchSqlite(sizes: Sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-bench-sqlite-'));
  try {
    const rt = await createRuntime({ config: { logLevel: 'silent', plugins: {}, storage: 'sqlite', dataDir: dir }, env: {} });

    // Raw better-sqlite3: same pragmas (WAL, synchronous=NORMAL), same tables and indexes.
    const db = new Database(path.join(dir, 'raw.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    for (const m of SQLITE_MIGRATIONS) db.exec(m.sql);
    const ins = db.prepare('INSERT INTO traces (tenant, id, session_id, status, created_ms, data, flags) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const insert = (t: Trace) => ins.run(t.tenant, t.id, t.sessionId, t.status, Date.parse(t.createdAt), traceJson(t), '[]');
    const insertMany = db.transaction((ts: Trace[]) => {
      for (const t of ts) insert(t);
    });
    const get = db.prepare('SELECT data, flags FROM traces WHERE tenant = ? AND id = ?');
    const list = db.prepare('SELECT data, flags FROM traces WHERE tenant = ? AND session_id = ? ORDER BY created_ms DESC, id DESC LIMIT 51');
    const head = db.prepare('SELECT seq, hash FROM provenance WHERE tenant = ? AND trace_id = ? ORDER BY seq DESC LIMIT 1');
    const insProv = db.prepare('INSERT INTO provenance (tenant, trace_id, seq, hash, data) VALUES (?, ?, ?, ?, ?)');
    const appendTx = db.transaction((input: ProvenanceInput) => {
      const e = nextProvenanceEntry(input, head.get('bench', input.traceId) as { seq: number; hash: string } | undefined);
      insProv.run('bench', input.traceId, e.seq, e.hash, JSON.stringify(e));
      return e;
    });
    const parse = (r: { data: string; flags: string } | undefined) => (r ? { ...JSON.parse(r.data), flags: JSON.parse(r.flags) } : null);
    const { plugin, raw, median } = await duel(pluginContestant(rt.resolve('storage')), {
      insertOne: (t) => void insert(t),
      insertBatch: (ts) => void insertMany.immediate(ts),
      get: (id) => parse(get.get('bench', id) as { data: string; flags: string } | undefined),
      listBySession: (sid) => (list.all('bench', sid) as { data: string; flags: string }[]).map(parse),
      append: (input) => appendTx.immediate(input),
    }, sizes, ROUNDS);
    db.close();
    await rt.close();
    return { backend: 'sqlite', durability: 'WAL, synchronous=NORMAL (both)', rounds: ROUNDS, plugin, raw, ratio: ratios(plugin, raw), median };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(sizes: Sizes) {
  const schema = `limit_bench_${process.pid}_${Date.now().toString(36)}`;
  const rawSchema = `${schema}_raw`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  try {
    const rt = await createRuntime({
      config: { logLevel: 'silent', storage: 'postgres', plugins: { 'storage-postgres': { url: PG_URL, schema } } },
      env: {},
    });

    // Raw pg: same pool size, tables and indexes, synchronous_commit as the server has it (both).
    const pool = new pg.Pool({ connectionString: PG_URL, max: 10 });
    await pool.query(`CREATE SCHEMA "${rawSchema}"`);
    for (const m of PG_MIGRATIONS) await pool.query(m.sql.replaceAll('{s}', `"${rawSchema}"`));
    const s = `"${rawSchema}"`;
    const tx = async <T>(fn: (c: pg.PoolClient) => Promise<T>) => {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const r = await fn(c);
        await c.query('COMMIT');
        return r;
      } catch (e) {
        await c.query('ROLLBACK');
        throw e;
      } finally {
        c.release();
      }
    };
    const rowOf = (r: { data: Trace; flags: unknown[] }) => ({ ...r.data, flags: r.flags });
    const { plugin, raw, median } = await duel(pluginContestant(rt.resolve('storage')), {
      insertOne: async (t) => {
        await pool.query({ name: 'ins', text: `INSERT INTO ${s}.traces (tenant, id, session_id, status, created_ms, data) VALUES ($1, $2, $3, $4, $5, $6)`, values: [t.tenant, t.id, t.sessionId, t.status, Date.parse(t.createdAt), traceJson(t)] });
      },
      insertBatch: (ts) => tx(async (c) => {
        await c.query({
          name: 'insmany',
          text: `INSERT INTO ${s}.traces (tenant, id, session_id, status, created_ms, data) SELECT a, b, c, d, e, f::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[]) AS u(a, b, c, d, e, f)`,
          values: [ts.map((t) => t.tenant), ts.map((t) => t.id), ts.map((t) => t.sessionId), ts.map((t) => t.status), ts.map((t) => Date.parse(t.createdAt)), ts.map(traceJson)],
        });
      }),
      get: async (id) => (await pool.query({ name: 'get', text: `SELECT data, flags FROM ${s}.traces WHERE tenant = $1 AND id = $2`, values: ['bench', id] })).rows.map(rowOf)[0] ?? null,
      listBySession: async (sid) => (await pool.query({ name: 'list', text: `SELECT data, flags FROM ${s}.traces WHERE tenant = $1 AND session_id = $2 ORDER BY created_ms DESC, id DESC LIMIT 51`, values: ['bench', sid] })).rows.map(rowOf),
      append: (input) => tx(async (c) => {
        await c.query({ name: 'lock', text: `SELECT 1 FROM ${s}.traces WHERE tenant = $1 AND id = $2 FOR UPDATE`, values: ['bench', input.traceId] });
        const head = (await c.query({ name: 'head', text: `SELECT seq, hash FROM ${s}.provenance WHERE tenant = $1 AND trace_id = $2 ORDER BY seq DESC LIMIT 1`, values: ['bench', input.traceId] })).rows[0];
        const e = nextProvenanceEntry(input, head);
        await c.query({ name: 'insprov', text: `INSERT INTO ${s}.provenance (tenant, trace_id, seq, hash, data) VALUES ($1, $2, $3, $4, $5)`, values: ['bench', input.traceId, e.seq, e.hash, JSON.stringify(e)] });
      }),
    }, sizes, ROUNDS);
    const sync = (await pool.query('SHOW synchronous_commit')).rows[0]?.synchronous_commit as string;
    await pool.end();
    await rt.close();
    return { backend: 'postgres', durability: `synchronous_commit=${sync} (both)`, rounds: ROUNDS, plugin, raw, ratio: ratios(plugin, raw), median };
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS "${rawSchema}" CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

const KV_NO_SYNC = /^(1|true|yes)$/i.test(process.env.LIMIT_BENCH_KV_NO_SYNC ?? '');

async function benchKv(sizes: Sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-bench-kv-'));
  try {
    const rt = await createRuntime({ config: { logLevel: 'silent', storage: 'kv', dataDir: dir, plugins: { 'storage-kv': { noSync: KV_NO_SYNC } } }, env: {} });

    // Raw lmdb-js: the plugin's own open options (encoding, noSync, overlappingSync), the same keys
    // per trace (record + time index + session index) with the same JSON text, the same uniqueness
    // check (noOverwrite), one transaction per call or batch, awaited until flushed unless noSync.
    type Key = (string | number)[];
    const db = openLmdb<string, Key>({ path: path.join(dir, 'raw-kv'), ...lmdbOptions({ noSync: KV_NO_SYNC }) });
    const durable = async <T>(p: Promise<T>): Promise<T> => {
      const r = await p;
      if (!KV_NO_SYNC) await db.flushed;
      return r;
    };
    const put = (t: Trace) => {
      const ms = Date.parse(t.createdAt);
      // lmdb's typings say void; at run time putSync returns false when noOverwrite finds the key.
      if (!(db.putSync(['t', t.tenant, t.id], JSON.stringify(t), { noOverwrite: true }) as unknown as boolean)) throw new Error(`trace ${t.id} exists`);
      db.put(['tc', t.tenant, ms, t.id], t.status);
      db.put(['ts', t.tenant, t.sessionId, ms, t.id], t.status);
    };
    const getJson = (key: Key) => {
      const text = db.get(key);
      return text === undefined ? null : JSON.parse(text);
    };
    const { plugin, raw, median } = await duel(pluginContestant(rt.resolve('storage')), {
      insertOne: (t) => durable(db.transaction(() => put(t))),
      insertBatch: (ts) => durable(db.transaction(() => {
        for (const t of ts) put(t);
      })),
      get: (id) => getJson(['t', 'bench', id]),
      listBySession: (sid) => {
        const rows: unknown[] = [];
        for (const { key } of db.getRange({ start: ['ts', 'bench', sid, Number.MAX_SAFE_INTEGER], end: ['ts', 'bench', sid], reverse: true, limit: 51 })) {
          rows.push(getJson(['t', 'bench', key[4] as string]));
        }
        return rows;
      },
      append: (input) => durable(db.transaction(() => {
        if (!db.doesExist(['t', 'bench', input.traceId])) throw new Error(`no trace ${input.traceId}`);
        let head: { seq: number; hash: string } | undefined;
        for (const { value } of db.getRange({ start: ['p', 'bench', input.traceId, Number.MAX_SAFE_INTEGER], end: ['p', 'bench', input.traceId], reverse: true, limit: 1 })) head = JSON.parse(value);
        const e = nextProvenanceEntry(input, head);
        if (!(db.putSync(['p', 'bench', input.traceId, e.seq], JSON.stringify(e), { noOverwrite: true }) as unknown as boolean)) throw new Error(`seq ${e.seq} taken`);
        return e;
      })),
    }, sizes, ROUNDS);
    await db.close();
    await rt.close();
    const durability = KV_NO_SYNC ? 'noSync: acknowledged after commit, not flushed (both)' : 'acknowledged after commit and fsync (overlappingSync, await flushed) (both)';
    return { backend: 'kv', durability, rounds: ROUNDS, plugin, raw, ratio: ratios(plugin, raw), median };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Raw node:fs doing what the file backend does with fsync on: per trace, `trace.json` ({ trace,
 * flagSeq }) under tenants/<t>/sessions/<s>/traces/<id>/, written to a temp file, fsync'd, renamed
 * and its folder fsync'd (and the parents of new folders fsync'd); a batch first writes a journal
 * of all files the same way, then the files 16 at a time, then removes the journal. Lookups use an
 * in-memory index like the plugin's; a provenance append appends one line and datasyncs it.
 */
function rawFileContestant(root: string): Contestant {
  const fsyncDir = async (dir: string) => {
    const h = await fsp.open(dir, constants.O_RDONLY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  };
  const mkdirs = async (dir: string) => {
    const first = await fsp.mkdir(dir, { recursive: true });
    if (!first) return;
    for (let d = dir; d.length >= first.length; d = path.dirname(d)) await fsyncDir(path.dirname(d));
  };
  const atomic = async (file: string, content: string) => {
    const dir = path.dirname(file);
    await mkdirs(dir);
    const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    const h = await fsp.open(temp, 'w');
    try {
      await h.writeFile(content, 'utf8');
      await h.sync();
    } finally {
      await h.close();
    }
    await fsp.rename(temp, file);
    await fsyncDir(dir);
  };
  const dirs = new Map<string, string>();
  const sessions = new Map<string, string[]>();
  const heads = new Map<string, { seq: number; hash: string } | undefined>();
  const traceDir = (t: Trace) => path.join(root, 'tenants', t.tenant, 'sessions', t.sessionId, 'traces', t.id);
  const index = (t: Trace) => {
    dirs.set(t.id, traceDir(t));
    const list = sessions.get(t.sessionId) ?? [];
    list.push(t.id);
    sessions.set(t.sessionId, list);
  };
  const check = (t: Trace) => {
    if (dirs.has(t.id)) throw new Error(`trace ${t.id} exists`);
  };
  const read = async (id: string) => {
    const dir = dirs.get(id);
    return dir ? (JSON.parse(await fsp.readFile(path.join(dir, 'trace.json'), 'utf8')) as { trace: Trace }).trace : null;
  };
  return {
    insertOne: async (t) => {
      check(t);
      await atomic(path.join(traceDir(t), 'trace.json'), JSON.stringify({ trace: t, flagSeq: [] }));
      index(t);
    },
    insertBatch: async (ts) => {
      ts.forEach(check);
      const files = ts.map((t) => [path.join(traceDir(t), 'trace.json'), JSON.stringify({ trace: t, flagSeq: [] })] as const);
      const journal = path.join(root, 'journal', `${Date.now()}-${randomUUID()}.json`);
      await atomic(journal, JSON.stringify({ files: files.map(([file, content]) => ({ file: path.relative(root, file), content })) }));
      for (let i = 0; i < files.length; i += 16) await Promise.all(files.slice(i, i + 16).map(([file, content]) => atomic(file, content)));
      await fsp.rm(journal);
      ts.forEach(index);
    },
    get: read,
    // Inserted in creation order, so the newest are at the end.
    listBySession: (sid) => Promise.all((sessions.get(sid) ?? []).slice(-51).reverse().map(read)),
    append: async (input) => {
      const dir = dirs.get(input.traceId);
      if (!dir) throw new Error(`no trace ${input.traceId}`);
      const e = nextProvenanceEntry(input, heads.get(input.traceId));
      const file = path.join(dir, 'provenance.jsonl');
      const isNew = !heads.has(input.traceId);
      const h = await fsp.open(file, 'a');
      try {
        await h.writeFile(`${JSON.stringify(e)}\n`, 'utf8');
        await h.datasync();
      } finally {
        await h.close();
      }
      if (isNew) await fsyncDir(dir);
      heads.set(input.traceId, e);
      return e;
    },
  };
}

async function benchFile(sizes: Sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-bench-file-'));
  try {
    const rt = await createRuntime({ config: { logLevel: 'silent', storage: 'file', dataDir: dir, plugins: { 'storage-file': { fsync: true } } }, env: {} });
    const rawRoot = path.join(dir, 'raw');
    await fsp.mkdir(rawRoot, { recursive: true });
    const { plugin, raw, median } = await duel(pluginContestant(rt.resolve('storage')), rawFileContestant(rawRoot), sizes, ROUNDS);
    await rt.close();
    return { backend: 'file', durability: 'fsync of every file, rename and new folder (both)', rounds: ROUNDS, plugin, raw, ratio: ratios(plugin, raw), median };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Another helper's backend, opened by name with its defaults under a temporary dataDir. */
async function benchByName(name: string, sizes: Sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `limit-bench-${name}-`));
  try {
    const rt = await createRuntime({ config: { logLevel: 'silent', storage: name, dataDir: dir, plugins: {} }, env: {} });
    const plugin = await measure(pluginContestant(rt.resolve('storage')), sizes, 'p');
    await rt.close();
    return { backend: name, plugin, raw: null, ratio: null, note: 'no raw-driver baseline in this benchmark' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A backend that is not built in must at least resolve to a storage plugin; checked before any round runs. */
async function checkBackend(name: string, available: readonly string[]): Promise<void> {
  if (available.includes(name)) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), `limit-bench-check-`));
  try {
    const rt = await createRuntime({ config: { logLevel: 'silent', storage: name, dataDir: dir, plugins: {} }, env: {}, boot: false });
    await rt.close();
  } catch (error) {
    if (!isLimitError(error)) throw error;
    throw new LimitError('LIMIT_VALIDATION', `--backends: unknown storage backend "${name}"`, {
      cause: error,
      details: { field: '--backends', value: name },
      fix: `Use one of ${available.join(', ')}, or a backend whose storage plugin is installed.`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The options run() reads, for `limit bench` (which refuses any other). */
export const options = {
  backends: 'comma-separated, of sqlite, postgres, file, kv (default: every one)',
  scale: 'work scale (default 1)',
  rounds: 'rounds (default 3)',
};

/** The values of the options (see `options`), checked — a LimitError naming the flag — before anything runs: `limit bench` calls it for every benchmark it is asked for before running any, run() for its own. */
export async function parseOptions(args: readonly string[]): Promise<{ sizes: Sizes; rounds: number; wanted: string[] }> {
  // A bad value must not turn into null sizes and an error hidden inside `results` with exit code 0.
  const scale = optionalNumberOption('--scale', rawOption(args, 'scale'), { min: 0.001 }) ?? 1;
  const rounds = optionalNumberOption('--rounds', rawOption(args, 'rounds'), { integer: true, min: 1 }) ?? 3;
  const sizes: Sizes = {
    single: Math.round(2000 * scale), batches: Math.max(1, Math.round(20 * scale)), batchSize: 1000,
    reads: Math.round(5000 * scale), lists: Math.round(500 * scale), appends: Math.round(1000 * scale),
  };
  const available = ['sqlite', 'postgres', 'file', 'kv'].filter((b) => existsSync(path.join(ROOT, 'plugins', `storage-${b}`, 'index.ts')));
  const backends = rawOption(args, 'backends');
  const wanted = (backends ?? available.join(',')).split(',').map((b) => b.trim()).filter(Boolean);
  if (wanted.length === 0) throw new LimitError('LIMIT_VALIDATION', `--backends ${JSON.stringify(backends)} names no backend`, { fix: `Pass --backends ${available.join(',')} (or some of them).` });
  for (const b of wanted) await checkBackend(b, available);
  return { sizes, rounds, wanted };
}

export async function run(args: string[]): Promise<unknown> {
  const { sizes, rounds, wanted } = await parseOptions(args);
  ROUNDS = rounds;
  const results: unknown[] = [];
  for (const b of wanted) {
    try {
      const bench = { sqlite: benchSqlite, postgres: benchPostgres, kv: benchKv, file: benchFile }[b] ?? ((s: Sizes) => benchByName(b, s));
      results.push(await bench(sizes));
    } catch (error) {
      results.push({ backend: b, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return {
    benchmark: 'storage',
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
    sizes,
    targets: { sqliteBatchedPerSec: 50_000, sqliteBatchedRatio: 0.7, postgresBatchedPerSec: 10_000, kvBatchedPerSec: 100_000 },
    results,
  };
}

runAsScript(import.meta.url, run, options);

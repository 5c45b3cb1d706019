/**
 * Multi-process tests for storage backends, reusable by any backend named by plugin name and options:
 * - `multiProcessProvenance`: several OS processes append to one trace's chain at once; the result
 *   must be one gapless chain that verifies (constraints and retries, not in-process locks, make it so).
 *   The writers go in rounds of `roundSize` appends, each round released to all of them at once
 *   after every one finished the previous round: every round is a race, however the OS schedules
 *   the processes, and every round's entries must come after the previous round's (`rounds`).
 * - `multiProcessRdSteps`: several OS processes append points without `step` to one RD series at
 *   once; every point must get its own step, the steps consecutive (storage gives the default step
 *   in the append's transaction).
 * - `crashTest`: a child writes in a loop and is killed with SIGKILL; every write it acknowledged must
 *   be present after reopening, and the store must open cleanly.
 * Each returns what it observed; the caller asserts (so they work with any test runner).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createRuntime, type ChainVerification, type Storage } from '../../kernel/index.ts';
import { packageRoot } from '../../kernel/package-info.ts';

// storage-child.ts in a checkout, storage-child.js in a build or an installed copy.
const SOURCE_CHILD = fileURLToPath(new URL('./storage-child.ts', import.meta.url));
const CHILD = existsSync(SOURCE_CHILD) ? SOURCE_CHILD : fileURLToPath(new URL('./storage-child.js', import.meta.url));
const ROOT = packageRoot();
const TSCONFIG = path.join(ROOT, 'tsconfig.json');

/** A backend as an application names it: plugin name (`storage-sqlite`, a path, a package) and options. */
export interface BackendSpec {
  plugin: string;
  options: Record<string, unknown>;
}

export type ChildSpec = BackendSpec & { tenant: string; traceId: string; writer: string } & (
  | { mode: 'append'; count: number; roundSize: number }
  | { mode: 'rdAppend'; count: number; roundSize: number; seriesId: string }
  | { mode: 'crash' }
);

/** Opens the backend in this process through createRuntime, runs `fn`, closes. */
export async function withStorage<T>(backend: BackendSpec, fn: (storage: Storage) => Promise<T>): Promise<T> {
  const runtime = await createRuntime({ config: { logLevel: 'silent', plugins: { [backend.plugin]: backend.options } }, env: {} });
  try {
    return await fn(runtime.resolve('storage'));
  } finally {
    await runtime.close();
  }
}

/** Starts the child script with tsx, so that TypeScript plugins load as they do in the CLI. */
export function spawnStorageChild(spec: ChildSpec): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(spec)], {
    cwd: ROOT,
    env: existsSync(TSCONFIG) ? { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG } : process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Calls `onLine` for each stdout line; resolves with stderr text and the exit code/signal. */
function watch(child: ChildProcess, onLine: (line: string) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let buffer = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

export interface MultiProcessResult {
  /** seq numbers of the chain, in order. */
  seqs: number[];
  verification: ChainVerification;
  /** Entries per writer, as stored. */
  perWriter: Record<string, number>;
  /** How often consecutive entries come from different writers. */
  switches: number;
  /** The race, round by round (see `RoundReport`). */
  rounds: RoundReport;
}

/**
 * What the stored order says about the gated rounds. Each round starts only once every writer
 * finished (had acknowledged) the previous one, so in a correct store each round's entries form one
 * block of the chain, after the previous round's, holding all writers: `ordered` is true and
 * `writersPerRound` is `processes` for every round. Then the writers raced `writersPerRound.length`
 * times at least, and `switches` >= (processes - 1) x rounds follows.
 */
export interface RoundReport {
  /** Distinct writers among each round's entries, round by round. */
  writersPerRound: number[];
  /** Whether the entries' rounds never go down along the stored order. */
  ordered: boolean;
}

function roundReport(stored: Array<{ writer: string; i: number }>, roundSize: number): RoundReport {
  const writers: Array<Set<string>> = [];
  let ordered = true;
  let last = 0;
  for (const { writer, i } of stored) {
    const round = Math.floor(i / roundSize);
    if (round < last) ordered = false;
    last = round;
    (writers[round] ??= new Set()).add(writer);
  }
  return { writersPerRound: Array.from(writers, (w) => w?.size ?? 0), ordered };
}

/** `processes` children each append `appendsEach` entries to one trace at the same time. */
export async function multiProcessProvenance(
  backend: BackendSpec,
  options: { processes?: number; appendsEach?: number; roundSize?: number; tenant?: string; traceId?: string } = {},
): Promise<MultiProcessResult> {
  const processes = options.processes ?? 3;
  const count = options.appendsEach ?? 100;
  const roundSize = options.roundSize ?? 5;
  const tenant = options.tenant ?? 'multi';
  const traceId = options.traceId ?? 'shared-trace';
  await withStorage(backend, (s) =>
    s.createTrace({
      id: traceId, sessionId: 'multi', tenant, parentIds: [], runner: 'multi-process', task: { input: 'x', kind: 'code' },
      status: 'ok', flags: [], createdAt: new Date().toISOString(), metadata: {},
    }),
  );
  await raceChildren(processes, count, roundSize, (w) => ({ ...backend, mode: 'append', count, roundSize, tenant, traceId, writer: `process-${w}` }));
  return withStorage(backend, async (s) => {
    const entries = await s.listProvenance(tenant, traceId);
    const perWriter: Record<string, number> = {};
    for (const e of entries) perWriter[e.actor] = (perWriter[e.actor] ?? 0) + 1;
    const switches = entries.filter((e, i) => i > 0 && e.actor !== entries[i - 1]!.actor).length;
    const rounds = roundReport(entries.map((e) => ({ writer: e.actor, i: Number((e.data as { i?: unknown } | undefined)?.i) })), roundSize);
    return { seqs: entries.map((e) => e.seq), verification: await s.verifyProvenance(tenant, traceId), perWriter, switches, rounds };
  });
}

/**
 * Starts `processes` children of `spec(w)` and releases each round of `roundSize` writes to all of
 * them at once: the first after every one has booted (`ready`), each next one after every one has
 * finished the previous round (`round <r>`). Waits until each printed `done <count>`; throws with a
 * child's stderr if one failed (and kills the others, which would wait for that one forever).
 */
async function raceChildren(processes: number, count: number, roundSize: number, spec: (writer: number) => ChildSpec): Promise<void> {
  const children: ChildProcess[] = [];
  const rounds = Math.ceil(count / roundSize);
  let released = 0;
  const arrived = new Map<string, number>();
  const release = (gate: string) => {
    const n = (arrived.get(gate) ?? 0) + 1;
    arrived.set(gate, n);
    if (n < processes) return;
    released++;
    // The last round's `go` also ends stdin: nothing more will come.
    for (const c of children) if (released === rounds) c.stdin!.end('go\n');
    else c.stdin!.write('go\n');
  };
  const runs = Array.from({ length: processes }, (_, w) => {
    const child = spawnStorageChild(spec(w));
    children.push(child);
    // A child that died cannot take its `go`; its failure is reported below, not as EPIPE.
    child.stdin!.on('error', () => {});
    let done = false;
    return watch(child, (line) => {
      if (line === 'ready' || /^round \d+$/.test(line)) release(line);
      if (line === `done ${count}`) done = true;
    }).then((r) => {
      if (r.code !== 0 || !done) {
        for (const c of children) if (c !== child && c.exitCode === null) c.kill('SIGKILL');
        throw new Error(`writer process-${w} failed (exit ${r.code ?? r.signal}):\n${r.stderr}`);
      }
    });
  });
  const settled = await Promise.allSettled(runs);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
}

export interface MultiProcessRdResult {
  /** The stored points' steps, in append (insertion) order. */
  steps: number[];
  /** Points per writer, as stored (`meta.writer`). */
  perWriter: Record<string, number>;
  /** How often consecutive points come from different writers. */
  switches: number;
  /** The race, round by round (see `RoundReport`). */
  rounds: RoundReport;
}

/** `processes` children each append `appendsEach` points without `step` to one RD series at the same time. */
export async function multiProcessRdSteps(
  backend: BackendSpec,
  options: { processes?: number; appendsEach?: number; roundSize?: number; tenant?: string; seriesId?: string } = {},
): Promise<MultiProcessRdResult> {
  const processes = options.processes ?? 3;
  const count = options.appendsEach ?? 100;
  const roundSize = options.roundSize ?? 5;
  const tenant = options.tenant ?? 'multi';
  const seriesId = options.seriesId ?? 'shared-series';
  await withStorage(backend, (s) =>
    s.createRdSeries({ id: seriesId, sessionId: 'multi', tenant, name: 'multi-process', points: [], createdAt: new Date().toISOString(), metadata: {} }),
  );
  await raceChildren(processes, count, roundSize, (w) => ({ ...backend, mode: 'rdAppend', count, roundSize, tenant, seriesId, traceId: seriesId, writer: `process-${w}` }));
  return withStorage(backend, async (s) => {
    const points = (await s.getRdSeries(tenant, seriesId))?.points ?? [];
    const writers = points.map((p) => String(p.meta?.writer));
    const perWriter: Record<string, number> = {};
    for (const w of writers) perWriter[w] = (perWriter[w] ?? 0) + 1;
    const rounds = roundReport(points.map((p, k) => ({ writer: writers[k]!, i: Number(p.meta?.i) })), roundSize);
    return { steps: points.map((p) => p.step), perWriter, switches: writers.filter((w, i) => i > 0 && w !== writers[i - 1]).length, rounds };
  });
}

export interface CrashResult {
  /** Ids the child acknowledged before it was killed. */
  acknowledged: string[];
  /** Acknowledged ids missing after reopening (must be empty). */
  missing: string[];
  /** The acknowledged-writes chain after reopening. */
  verification: ChainVerification;
  /** The `acknowledged` counter after reopening (at least acknowledged.length). */
  counter: number;
  signal: NodeJS.Signals | null;
}

/**
 * Runs the crash child until it has acknowledged `minAcks` writes (then waits `extraMs` more, so the
 * kill lands mid-write), SIGKILLs it, reopens the store and reports what survived.
 */
export async function crashTest(backend: BackendSpec, options: { minAcks?: number; extraMs?: number; tenant?: string } = {}): Promise<CrashResult> {
  const minAcks = options.minAcks ?? 200;
  const tenant = options.tenant ?? 'crash';
  const traceId = 'crash-chain';
  await withStorage(backend, (s) =>
    s.createTrace({
      id: traceId, sessionId: 'crash', tenant, parentIds: [], runner: 'crash-test', task: { input: 'x', kind: 'code' },
      status: 'ok', flags: [], createdAt: new Date().toISOString(), metadata: {},
    }),
  );
  const child = spawnStorageChild({ ...backend, mode: 'crash', tenant, traceId, writer: 'crasher' });
  const acknowledged: string[] = [];
  let killTimer: NodeJS.Timeout | undefined;
  const finished = watch(child, (line) => {
    if (!line.startsWith('ack ')) return;
    acknowledged.push(line.slice(4));
    if (acknowledged.length === minAcks) killTimer = setTimeout(() => child.kill('SIGKILL'), options.extraMs ?? 20);
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const result = await finished;
  clearTimeout(guard);
  clearTimeout(killTimer);
  if (result.signal !== 'SIGKILL') throw new Error(`crash child exited on its own (exit ${result.code}):\n${result.stderr}`);
  // Killed by the guard, not after minAcks writes: what survived of (nearly) nothing proves nothing.
  if (acknowledged.length < minAcks) throw new Error(`crash child acknowledged only ${acknowledged.length} of ${minAcks} writes in 60 s before it was killed:\n${result.stderr}`);
  return withStorage(backend, async (s) => {
    const missing: string[] = [];
    for (const id of acknowledged) if ((await s.getTrace(tenant, id)) === null) missing.push(id);
    return {
      acknowledged,
      missing,
      verification: await s.verifyProvenance(tenant, traceId),
      counter: (await s.getCounters(tenant)).acknowledged ?? 0,
      signal: result.signal,
    };
  });
}

/**
 * HTTP API throughput: autocannon against POST /traces and GET /traces/:id of the real stack
 * (api-http → orchestrator → governance → storage-sqlite), and against a bare Fastify route doing
 * the same HTTP work (parse a JSON body, answer JSON) in the same run, reported as a ratio. It also
 * calls orchestrator.recordTrace in-process with the same concurrency, so the cost of the pipeline
 * itself (governance, storage transactions) is told apart from the cost of the HTTP layer, and
 * times a floor: the bare route plus nothing but one SQLite INSERT of the body (autocommit, WAL,
 * synchronous=NORMAL, as storage-sqlite) — no governance, no provenance — to show what a durable
 * write alone costs against the bare route on this machine.
 *
 *   npx tsx bench/api.ts [--duration 5] [--connections 10] [--governance default|minimal]
 *   npm run bench -- api
 *
 * The load generator runs in a worker thread so that it does not share the servers' event loop.
 * On Linux each scenario also reports the CPU time one request costs the servers' thread (main
 * thread, from /proc) and the rest of the process (the load generator, GC helpers), and from them
 * `cpuCeilingReqPerSec`: the rate the scenario could reach if every core of the machine were busy
 * with it and nothing else — a bound no concurrency or threading inside the server can pass.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { LimitError, createRuntime, newId, optionalNumberOption, rawOption } from 'limit-graph';
import '../plugins/api-http/index.ts';
import { BUILT_IN_PACKS } from '../presets/governance/packs.ts';
import { runAsScript } from './_script.ts';

const KEY = 'bench-key-0123456789abcdef';
const PACKS = BUILT_IN_PACKS;

const arg = rawOption;

interface Figures {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  cpu?: CpuPerRequest;
}

interface CpuPerRequest {
  /** CPU µs per request on the main thread: the server under test (and the other server, idle). */
  serverUs: number;
  /** CPU µs per request in the rest of the process: the load generator's worker, GC helpers. */
  restUs: number;
  /** cores × 1e6 / (serverUs + restUs): the rate with every core busy on this scenario alone. */
  cpuCeilingReqPerSec: number;
}

/** CPU ms of this process's main thread (Linux /proc; utime + stime in clock ticks of 10 ms). */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** The whole process's CPU ms: getrusage counts threads that have exited too (the load generator's). */
const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function load(url: string, opts: { duration: number; connections: number; method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> }): Promise<Figures> {
  const main0 = mainThreadCpuMs();
  const all0 = processCpuMs();
  const result = await autocannon({
    url,
    method: opts.method ?? 'GET',
    body: opts.body,
    headers: { ...opts.headers, ...(opts.body ? { 'content-type': 'application/json' } : {}) },
    connections: opts.connections,
    duration: opts.duration,
    workers: 1,
  });
  const main1 = mainThreadCpuMs();
  const all = processCpuMs() - all0;
  const n = result.requests.total;
  let cpu: CpuPerRequest | undefined;
  if (main0 !== undefined && main1 !== undefined && n > 0) {
    const serverUs = ((main1 - main0) * 1000) / n;
    const restUs = ((all - (main1 - main0)) * 1000) / n;
    cpu = { serverUs: Math.round(serverUs), restUs: Math.round(restUs), cpuCeilingReqPerSec: Math.round((os.availableParallelism() * 1e6) / (serverUs + restUs)) };
  }
  return {
    reqPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: n,
    non2xx: result.non2xx,
    errors: result.errors,
    ...(cpu ? { cpu } : {}),
  };
}

/** The options run() reads, for `limit bench` (which refuses any other). */
export const options = {
  duration: 'whole seconds each scenario runs (default 5)',
  connections: 'concurrent connections (default 10)',
  governance: 'governance preset of the stack, default|minimal (default default)',
};

/** The values of the options (see `options`), checked — a LimitError naming the flag — before anything runs: `limit bench` calls it for every benchmark it is asked for before running any, run() for its own. */
export function parseOptions(args: readonly string[]): { duration: number; connections: number; governance: 'default' | 'minimal' } {
  // Whole seconds: autocannon stops a run at its next one-second sample, so 0.5 ran 1 s while config.durationS said 0.5.
  const duration = optionalNumberOption('--duration', arg(args, 'duration'), { integer: true, min: 1 }) ?? 5;
  const connections = optionalNumberOption('--connections', arg(args, 'connections'), { integer: true, min: 1 }) ?? 10;
  const governance = arg(args, 'governance') ?? 'default';
  // Anything but "default" used to run the minimal stack, reported under the name given.
  if (governance !== 'default' && governance !== 'minimal') {
    throw new LimitError('LIMIT_VALIDATION', `--governance must be default or minimal, got ${JSON.stringify(governance)}`, { details: { field: '--governance', value: governance }, fix: 'Pass --governance default or --governance minimal.' });
  }
  return { duration, connections, governance };
}

export async function run(args: string[] = []): Promise<unknown> {
  const { duration, connections, governance } = parseOptions(args);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-bench-api-'));

  const bare = Fastify({ logger: false });
  bare.post('/bare', async (request, reply) => reply.code(201).send({ ok: true, received: Object.keys(request.body as object).length }));
  bare.get('/bare/:id', async (request) => ({ id: (request.params as { id: string }).id, status: 'ok' }));
  const floorDb = new Database(path.join(dir, 'floor.db'));
  floorDb.pragma('journal_mode = WAL');
  floorDb.pragma('synchronous = NORMAL');
  floorDb.exec('CREATE TABLE records (tenant TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (tenant, id))');
  const insert = floorDb.prepare('INSERT INTO records (tenant, id, data) VALUES (?, ?, ?)');
  bare.post('/bare-insert', async (request, reply) => {
    const id = newId();
    insert.run('bench', id, JSON.stringify(request.body));
    return reply.code(201).send({ ok: true, id });
  });
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}`;

  const rt = await createRuntime({
    config: {
      storage: 'sqlite',
      dataDir: dir,
      logLevel: 'warn',
      plugins: {
        'storage-sqlite': { path: path.join(dir, 'bench.db') },
        ...(governance === 'default' ? Object.fromEntries(PACKS.map((p) => [`governance-rules-${p}`, true])) : {}),
        governance: governance === 'default' ? { preset: 'default', packs: [...PACKS] } : { packs: [] },
        'runner-python': { warm: false },
        orchestrator: {},
        'api-http': { listen: true, port: 0, rateLimit: false, auth: { mode: 'apiKey', keys: [{ key: KEY, tenant: 'bench' }] } },
      },
    },
  });
  const http = rt.resolve('http');
  const apiUrl = http.url!;
  const auth = { authorization: `Bearer ${KEY}` };
  try {
    const session = (await (await fetch(`${apiUrl}/sessions`, { method: 'POST', headers: auth })).json()) as { id: string };
    const traceBody = JSON.stringify({
      sessionId: session.id,
      runner: 'external-agent',
      task: { input: 'Summarise the quarterly report in three bullet points.', kind: 'external' },
      output: { ok: true, stdout: '- revenue up 4%\n- costs flat\n- hiring paused', stderr: '' },
      metrics: { latencyMs: 840, tokensIn: 1200, tokensOut: 60 },
      metadata: { agent: 'bench' },
    });
    const first = (await (await fetch(`${apiUrl}/traces`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: traceBody })).json()) as { trace: { id: string } };
    const traceId = first.trace.id;

    const warm = Math.max(1, Math.round(duration / 5));
    await load(`${bareUrl}/bare`, { duration: warm, connections, method: 'POST', body: traceBody });
    await load(`${apiUrl}/traces`, { duration: warm, connections, method: 'POST', body: traceBody, headers: auth });

    const barePost = await load(`${bareUrl}/bare`, { duration, connections, method: 'POST', body: traceBody });
    const bareInsert = await load(`${bareUrl}/bare-insert`, { duration, connections, method: 'POST', body: traceBody });
    const postTraces = await load(`${apiUrl}/traces`, { duration, connections, method: 'POST', body: traceBody, headers: auth });
    const bareGet = await load(`${bareUrl}/bare/${traceId}`, { duration, connections });
    const getTrace = await load(`${apiUrl}/traces/${traceId}`, { duration, connections, headers: auth });

    // The same pipeline without HTTP: how much of the gap to the bare route is the API layer's.
    const orchestrator = rt.resolve('orchestrator');
    const input = JSON.parse(traceBody) as Parameters<typeof orchestrator.recordTrace>[0];
    let done = 0;
    const until = performance.now() + duration * 1000;
    await Promise.all(Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        await orchestrator.recordTrace({ ...input, tenant: 'bench' });
        done++;
      }
    }));
    const direct = { opsPerSec: Math.round(done / duration) };

    const ratio = (a: Figures, b: Figures) => Math.round((a.reqPerSec / b.reqPerSec) * 1000) / 1000;
    return {
      benchmark: 'api',
      config: { durationS: duration, connections, storage: 'sqlite', governance, node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length },
      scenarios: {
        barePost,
        bareInsertFloor: { ...bareInsert, ratioToBare: ratio(bareInsert, barePost) },
        postTraces: { ...postTraces, ratioToBare: ratio(postTraces, barePost), ratioToDirectRecordTrace: Math.round((postTraces.reqPerSec / direct.opsPerSec) * 1000) / 1000 },
        directRecordTrace: direct,
        bareGet,
        getTrace: { ...getTrace, ratioToBare: ratio(getTrace, bareGet) },
      },
      target: { postTracesMinRatio: 0.5, met: ratio(postTraces, barePost) >= 0.5 },
    };
  } finally {
    await http.close();
    await rt.close();
    await bare.close();
    floorDb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runAsScript(import.meta.url, run, options);

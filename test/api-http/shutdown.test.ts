/**
 * Shutdown as `limit serve` does it on SIGTERM: `http.close()` (in-flight requests get
 * shutdownGraceMs, then their connections are cut, which aborts their runs), then
 * `runtime.close()`. The runs whose connections were cut are still in the pipeline then; storage
 * must not close under them: the orchestrator's drain and dispose wait for them (closeWaitMs each),
 * and the dispose records as `error` the ones that do not finish. Real storage (SQLite and PostgreSQL), governance and
 * orchestrator; a runner that runs until aborted and an output-governance tap the test holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, type ProvenanceEntry, type Runner, type Runtime, type Trace } from 'limit-graph';
import '../../plugins/api-http/index.ts';
import { dropSchemas, storagePlugins, uniqueSchema } from '../helpers/storage-backend.ts';

/** Runs until aborted (the connection cut at the end of the grace period aborts the run); `started` is called as it starts. */
let started = () => {};
const untilAborted: Runner = {
  name: 'wait',
  capabilities: { timeout: true, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
  executeIsolated: (_task, ctx) => new Promise((_, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
    started();
  }),
  async health() {
    return { status: 'ok', checks: [] };
  },
};
const runnerPlugin = definePlugin({ meta: { name: 'test-runner-wait', version: '0.0.0', provides: ['runner:wait'] }, setup: (ctx) => ctx.provide('runner:wait', untilAborted) });

/**
 * A client in a worker thread: it opens `count` connections and sends a request on each, then
 * sets `sent` — while the server's thread waits on it, so none of them is accepted or read yet —
 * and posts back, per connection, the status line and headers received, or the socket error.
 */
const CLIENT = `
const net = require('node:net');
const { parentPort, workerData: { port, count, sent } } = require('node:worker_threads');
const flag = new Int32Array(sent);
const body = JSON.stringify({ name: 'late' });
let written = 0;
const answers = Array.from({ length: count }, () => new Promise((resolve) => {
  let head = '';
  const socket = net.connect(port, '127.0.0.1', () => socket.write(
    'POST /sessions HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nOrigin: https://app.example.com\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n' + body,
    () => { if (++written === count) { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); } }));
  socket.on('data', (chunk) => (head += chunk));
  socket.on('error', (error) => resolve({ error: error.code }));
  socket.on('close', () => resolve(head.includes('\\r\\n\\r\\n') ? { head: head.slice(0, head.indexOf('\\r\\n\\r\\n')), body: head.slice(head.indexOf('\\r\\n\\r\\n') + 4) } : { error: 'closed without an answer' }));
}));
Promise.all(answers).then((all) => parentPort.postMessage(all));
`;

describe.each(['sqlite', 'postgres'] as const)('limit serve shutdown with runs outlasting shutdownGraceMs (%s)', (backend) => {
  const dirs: string[] = [];
  const schemas: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    await dropSchemas(schemas);
  });

  /**
   * A server whose run's output governance waits for `hold` (the pipeline still writing after its
   * connection was cut); returns what storage holds of that trace at the moment storage closes.
   */
  async function shutDown(hold: (signals: { closeBegan: Promise<void>; storageClosing: Promise<void> }) => Promise<void>, closeWaitMs: number) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-shutdown-'));
    dirs.push(dir);
    const schema = uniqueSchema('api_shutdown');
    if (backend === 'postgres') schemas.push(schema);
    const rt: Runtime = await createRuntime({
      config: {
        storage: backend, dataDir: dir, logLevel: 'silent',
        plugins: {
          ...storagePlugins(backend, { sqlitePath: path.join(dir, 'limit.db'), schema, poolSize: 4 }),
          'governance-rules-jailbreak': true,
          governance: { packs: ['jailbreak'] },
          orchestrator: { closeWaitMs },
          'api-http': { listen: true, port: 0, auth: { mode: 'none' }, rateLimit: false, shutdownGraceMs: 100 },
        },
      },
      plugins: [runnerPlugin],
    });
    const storage = rt.resolve('storage');
    let onCloseBegan!: () => void;
    const closeBegan = new Promise<void>((resolve) => (onCloseBegan = resolve));
    let onStorageClosing!: () => void;
    const storageClosing = new Promise<void>((resolve) => (onStorageClosing = resolve));
    let atClose: { trace: Trace | null; provenance: ProvenanceEntry[] } | undefined;
    let traceId: string | undefined;
    const close = storage.close.bind(storage);
    storage.close = async () => {
      if (traceId) atClose = { trace: await storage.getTrace('default', traceId), provenance: await storage.listProvenance('default', traceId) };
      onStorageClosing();
      return close();
    };
    let cut!: () => void;
    const inOutputGovernance = new Promise<void>((resolve) => (cut = resolve));
    rt.hooks.governOutput.tapPromise('test', async (findings, trace) => {
      traceId = trace.id;
      cut();
      await hold({ closeBegan, storageClosing });
      return findings;
    });

    const running = new Promise<void>((resolve) => (started = resolve));
    const http = rt.resolve('http');
    const session = await (await fetch(`${http.url}/sessions`, { method: 'POST' })).json() as { id: string };
    const request = fetch(`${http.url}/sessions/${session.id}/runs`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runner: 'wait', task: { input: 'print(1)' } }),
    }).then((r) => r.status, (e: unknown) => e);
    await running;
    // As on SIGTERM: the grace period ends, the connection is cut, the run is aborted and goes on to
    // output governance; http.close() returns while it is there.
    await http.close();
    await inOutputGovernance;
    const closing = rt.close();
    onCloseBegan();
    await closing;
    expect(await request).toBeInstanceOf(Error); // the client saw its connection cut
    expect(atClose, 'storage closed').toBeDefined();
    return atClose!;
  }

  it('a run cut at the end of the grace period records its trace before storage closes', async () => {
    // The pipeline goes on once the runtime's close has begun.
    const { trace, provenance } = await shutDown(({ closeBegan }) => closeBegan, 10_000);
    expect(trace).toMatchObject({ status: 'error', output: { ok: false, error: { code: 'LIMIT_RUNNER_ABORTED' } } });
    expect(provenance.map((e) => e.action)).toEqual(['created', 'executed', 'completed']);
  });

  it('requests sent before the close began, not yet accepted or read, are answered 503 problem+json, not reset', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-shutdown-'));
    dirs.push(dir);
    const schema = uniqueSchema('api_shutdown');
    if (backend === 'postgres') schemas.push(schema);
    const rt = await createRuntime({
      config: {
        storage: backend, dataDir: dir, logLevel: 'silent',
        plugins: {
          ...storagePlugins(backend, { sqlitePath: path.join(dir, 'limit.db'), schema, poolSize: 4 }),
          'governance-rules-jailbreak': true,
          governance: { packs: ['jailbreak'] },
          orchestrator: {},
          'api-http': { listen: true, port: 0, auth: { mode: 'none' }, rateLimit: false, shutdownGraceMs: 5_000, cors: { origins: ['https://app.example.com'] } },
        },
      },
      plugins: [runnerPlugin],
    });
    const http = rt.resolve('http');
    const count = 8;
    const sent = new SharedArrayBuffer(4);
    const client = new Worker(CLIENT, { eval: true, workerData: { port: Number(new URL(http.url!).port), count, sent } });
    const answers = new Promise<{ head?: string; body?: string; error?: string }[]>((resolve, reject) => client.once('message', resolve).once('error', reject));
    // This thread sleeps (its event loop stands still) until every request is on the wire: they
    // wait at the listener, unaccepted, when the close begins.
    expect(Atomics.wait(new Int32Array(sent), 0, 0, 10_000)).toBe('ok');
    const closing = http.close();
    const got = await answers;
    await closing;
    await client.terminate();
    await rt.close();
    for (const answer of got) {
      expect(answer.error, JSON.stringify(got.map((a) => a.error ?? a.head?.slice(0, 12)))).toBeUndefined();
      expect(answer.head).toMatch(/^HTTP\/1\.1 503 /);
      expect(answer.head).toMatch(/\r\ncontent-type: application\/problem\+json/i);
      expect(answer.head).toMatch(/\r\nconnection: close/i);
      // A page of an allowed origin can read the 503 (without this header its fetch sees a network error).
      expect(answer.head).toMatch(/\r\naccess-control-allow-origin: https:\/\/app\.example\.com\r\n/i);
      expect(JSON.parse(answer.body!)).toMatchObject({ status: 503, code: 'LIMIT_RUNTIME_CLOSED', detail: 'The server is shutting down: this request was not processed' });
    }
    expect(got).toHaveLength(count);
  });

  it('one still not recorded after closeWaitMs is recorded as error (LIMIT_RUNTIME_CLOSED), never left running', async () => {
    // The pipeline is held until storage closes: it cannot finish in time.
    const { trace, provenance } = await shutDown(({ storageClosing }) => storageClosing, 300);
    expect(trace).toMatchObject({ status: 'error', output: { ok: false, error: { code: 'LIMIT_RUNNER_ABORTED' } } });
    expect(provenance.map((e) => e.action)).toEqual(['created', 'executed', 'failed']);
    expect(provenance[2]!.data).toMatchObject({ status: 'error', code: 'LIMIT_RUNTIME_CLOSED' });
  });
});

/**
 * A client that hangs up on POST /traces or POST /merges while governance evaluates: the rule call
 * in flight has its ctx.signal aborted and nothing is stored (no trace, no counter); on POST
 * /artifacts/export the reading stops; requests pipelined on one connection are all cancelled when
 * it closes. Over a real listening server, with an async rule whose answer the test holds.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { FastifyReply } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GovernanceRule, Orchestrator, RunOutcome } from 'limit-graph';
import { KEYS, startServer, type Server } from './harness.ts';
import { abortedWhenClientLeaves } from '../../plugins/api-http/routes.ts';

/** Holds every text containing WAIT until its ctx.signal aborts, calling the next of `held` once it does hold one. */
const held: (() => void)[] = [];
const rule: GovernanceRule = {
  id: 'acme.hold', flag: 'Unsafe', surfaces: ['input', 'output'],
  evaluate: (subject, ctx) => {
    if (!subject.text.includes('WAIT') || subject.view?.name !== 'raw') return [];
    held.shift()!();
    const signal = ctx.signal!;
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  },
};

describe('api-http: a client that hangs up on a recorded trace or a merge', () => {
  let s: Server;
  let orch: Orchestrator;
  beforeAll(async () => {
    s = await startServer({ api: { shutdownGraceMs: 1_000 }, plugins: { governance: { packs: [], rules: [rule], ruleBudgetMs: 60_000 } } });
    orch = s.rt.resolve('orchestrator');
  });
  afterAll(async () => {
    await s?.close();
  });

  /**
   * Sends `body` to `url`, hangs up once the rule holds it, and returns what the orchestrator's call
   * (`method`) settled with.
   */
  async function hangUp(method: 'recordTrace' | 'merge', url: string, body: unknown): Promise<unknown> {
    let settled!: Promise<unknown>;
    const original = orch[method].bind(orch) as (input: never) => Promise<unknown>;
    orch[method] = ((input: never) => (settled = original(input))) as never;
    try {
      const entered = new Promise<void>((resolve) => held.push(resolve));
      const client = new AbortController();
      const sent = fetch(s.url + url, {
        method: 'POST', body: JSON.stringify(body), signal: client.signal,
        headers: { authorization: `Bearer ${KEYS.A}`, 'content-type': 'application/json' },
      }).catch((e: Error) => e);
      await entered;
      client.abort();
      expect(await sent).toBeInstanceOf(Error);
      return await settled.catch((e: unknown) => e);
    } finally {
      delete (orch as Partial<Orchestrator>)[method]; // the prototype's method again
    }
  }

  it('POST /traces: the recording is cancelled and nothing is stored', async () => {
    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'hang-up' } })).json.id;
    const before = await s.storage.getCounters('tenant-a');
    const error = await hangUp('recordTrace', '/traces', { sessionId, runner: 'agent', task: { input: 'WAIT' }, output: { ok: true, stdout: 'x', stderr: '' } });
    expect(error).toMatchObject({ code: 'LIMIT_RUNNER_ABORTED', message: expect.stringContaining('the client closed the connection') });
    expect((await s.storage.listTraces('tenant-a', { sessionId })).items).toEqual([]);
    expect(await s.storage.getCounters('tenant-a')).toEqual(before);
  });

  it('POST /merges: the merge is cancelled and nothing is stored', async () => {
    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'hang-up-merge' } })).json.id;
    const parent = await s.req('POST', '/traces', { body: { sessionId, runner: 'agent', task: { input: 'a' }, output: { ok: true, stdout: 'a', stderr: '' } } });
    expect(parent.status, parent.text).toBe(201);
    const before = await s.storage.getCounters('tenant-a');
    const error = await hangUp('merge', '/merges', { parentIds: [parent.json.trace.id], strategy: 'custom', output: { ok: true, stdout: 'WAIT', stderr: '' } });
    expect(error).toMatchObject({ code: 'LIMIT_RUNNER_ABORTED', message: expect.stringContaining('the client closed the connection') });
    expect((await s.storage.listTraces('tenant-a', { sessionId })).items.map((t) => t.id)).toEqual([parent.json.trace.id]);
    expect(await s.storage.getCounters('tenant-a')).toEqual(before);
  });

  it('POST /artifacts/export: the export stops reading and rejects', async () => {
    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'hang-up-export' } })).json.id;
    const traceIds: string[] = [];
    for (const input of ['a', 'b', 'c']) {
      const r = await s.req('POST', '/traces', { body: { sessionId, runner: 'agent', task: { input }, output: { ok: true, stdout: input, stderr: '' } } });
      traceIds.push(r.json.trace.id);
    }
    let settled!: Promise<unknown>;
    let signal!: AbortSignal;
    const exportArtifact = orch.exportArtifact.bind(orch);
    orch.exportArtifact = (input) => {
      signal = input.signal!;
      return (settled = exportArtifact(input)) as never;
    };
    // The first trace's read waits until the server sees the hang-up (the export's signal aborts).
    const getTrace = s.storage.getTrace.bind(s.storage);
    let entered!: () => void;
    const reading = new Promise<void>((resolve) => (entered = resolve));
    const read = vi.spyOn(s.storage, 'getTrace').mockImplementation(async (tenant, id) => {
      if (read.mock.calls.length === 1) {
        entered();
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      }
      return getTrace(tenant, id);
    });
    try {
      const client = new AbortController();
      const sent = fetch(`${s.url}/artifacts/export`, {
        method: 'POST', body: JSON.stringify({ traceIds, format: 'json' }), signal: client.signal,
        headers: { authorization: `Bearer ${KEYS.A}`, 'content-type': 'application/json' },
      }).catch((e: Error) => e);
      await reading;
      client.abort();
      expect(await sent).toBeInstanceOf(Error);
      expect(await settled.catch((e: unknown) => e)).toMatchObject({ code: 'LIMIT_RUNNER_ABORTED', message: 'The export was aborted: the client closed the connection before the response' });
      expect(read).toHaveBeenCalledTimes(1);
    } finally {
      read.mockRestore();
      delete (orch as Partial<Orchestrator>).exportArtifact;
    }
  });

  it('requests pipelined on one connection are all cancelled when it closes, a response still queued included', async () => {
    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'hang-up-pipelined' } })).json.id;
    const settled: Promise<unknown>[] = [];
    const recordTrace = orch.recordTrace.bind(orch);
    const run = orch.run.bind(orch);
    orch.recordTrace = (input) => {
      const p = recordTrace(input);
      settled.push(p.catch((e: unknown) => e));
      return p;
    };
    orch.run = (input) => {
      const p = run(input);
      settled.push(p.catch((e: unknown) => e));
      return p;
    };
    try {
      // Three requests the rule holds: the first one's response is the one being written; the other
      // two wait their turn on the connection (no socket yet, so no response 'close' when it closes).
      const entered = [0, 1, 2].map(() => new Promise<void>((resolve) => held.push(resolve)));
      const request = (url: string, body: unknown) => {
        const text = JSON.stringify(body);
        return `POST ${url} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEYS.A}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
      };
      const recorded = { sessionId, runner: 'agent', task: { input: 'WAIT' }, output: { ok: true, stdout: 'x', stderr: '' } };
      const port = Number(new URL(s.url).port);
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(request('/traces', recorded) + request('/traces', recorded) + request(`/sessions/${sessionId}/runs`, { runner: 'python', task: { input: 'print("WAIT")' } }));
      });
      socket.on('error', () => {});
      await Promise.all(entered);
      socket.destroy();
      const [first, second, ran] = await Promise.all(settled);
      for (const error of [first, second]) {
        expect(error).toMatchObject({ code: 'LIMIT_RUNNER_ABORTED', message: 'Recording the trace was aborted: the client closed the connection before the response' });
      }
      expect((ran as RunOutcome).trace).toMatchObject({
        status: 'error', output: { error: { code: 'LIMIT_RUNNER_ABORTED', message: expect.stringContaining('the client closed the connection before the response') } },
      });
      expect((await s.storage.listTraces('tenant-a', { sessionId })).items.map((t) => t.runner)).toEqual(['python']);
    } finally {
      delete (orch as Partial<Orchestrator>).recordTrace;
      delete (orch as Partial<Orchestrator>).run;
    }
  }, 20_000);
});

describe('abortedWhenClientLeaves', () => {
  const reply = (socket: EventEmitter & { destroyed?: boolean }) => {
    const raw = Object.assign(new EventEmitter(), { writableFinished: false });
    return { raw, request: { raw: { socket } } } as unknown as FastifyReply & { raw: typeof raw };
  };

  it('is aborted at once when the connection closed before the route began (its close event already fired)', () => {
    const socket = Object.assign(new EventEmitter(), { destroyed: true });
    expect(abortedWhenClientLeaves(reply(socket)).aborted).toBe(true);
  });

  it('leaves a kept-alive socket once its response is done: a later close does not abort it', () => {
    const socket = Object.assign(new EventEmitter(), { destroyed: false });
    const r = reply(socket);
    const signal = abortedWhenClientLeaves(r);
    expect(socket.listenerCount('close')).toBe(1);
    r.raw.writableFinished = true;
    r.raw.emit('finish');
    expect(socket.listenerCount('close')).toBe(0);
    socket.emit('close');
    expect(signal.aborted).toBe(false);
  });
});

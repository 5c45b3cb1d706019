/**
 * Starts the real stack (storage-sqlite or storage-postgres, governance with the jailbreak pack,
 * runner-python, orchestrator, api-http) listening on 127.0.0.1:0, and talks to it with fetch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { Writable } from 'node:stream';
import { createLogger, createRuntime, type Plugin, type Runtime, type Storage } from 'limit-graph';
import '../../plugins/api-http/index.ts';

import { dropSchemas, storagePlugins, uniqueSchema, type Backend } from '../helpers/storage-backend.ts';

export type { Backend };

export const KEYS = {
  A: 'key-A-0123456789abcdef',
  A2: 'key-A2-0123456789abcdef',
  B: 'key-B-0123456789abcdef',
} as const;

export interface Server {
  rt: Runtime;
  url: string;
  storage: Storage;
  backend: Backend;
  req(method: string, url: string, init?: { key?: string | null; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> }): Promise<Res>;
  close(): Promise<void>;
}

/** A request with the path sent byte for byte (fetch would normalise `..` and percent-escapes). */
export function rawRequest(base: string, method: string, rawPath: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Res> {
  const { hostname, port } = new URL(base);
  // Node sends DELETE/GET bodies without framing unless told the length; say it for every method.
  if (body !== undefined) headers = { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    // One connection per request: a reused keep-alive socket the server just closed would look like a server fault.
    const req = http.request({ host: hostname, port, method, path: rawPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers: h, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A debug-level logger whose lines (JSON text) are kept in `lines`. */
export function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: stream as never }), lines };
}

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export async function startServer(options: {
  backend?: Backend;
  api?: Record<string, unknown>;
  plugins?: Record<string, unknown>;
  extra?: Plugin[];
  logger?: Runtime['logger'];
} = {}): Promise<Server> {
  const backend = options.backend ?? 'sqlite';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-api-'));
  const schema = uniqueSchema('api_http');
  const rt = await createRuntime({
    config: {
      storage: backend,
      dataDir: dir,
      logLevel: 'silent',
      plugins: {
        ...storagePlugins(backend, { sqlitePath: path.join(dir, 'limit.db'), schema, poolSize: 4 }),
        'governance-rules-jailbreak': true,
        governance: { packs: ['jailbreak'] },
        'runner-python': { warm: true },
        orchestrator: {},
        'api-http': {
          listen: true,
          port: 0,
          auth: { mode: 'apiKey', keys: [{ key: KEYS.A, tenant: 'tenant-a', name: 'alice' }, { key: KEYS.A2, tenant: 'tenant-a' }, { key: KEYS.B, tenant: 'tenant-b' }] },
          ...options.api,
        },
        ...options.plugins,
      },
    },
    plugins: options.extra ?? [],
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const http = rt.resolve('http');
  const url = http.url!;
  const storage = rt.resolve('storage');
  return {
    rt, url, storage, backend,
    async req(method, p, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      const key = init.key === undefined ? KEYS.A : init.key;
      if (key !== null) headers.authorization ??= `Bearer ${key}`;
      let body: string | Buffer | undefined;
      if (init.raw !== undefined) body = init.raw;
      else if (init.body !== undefined) {
        body = JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + p, { method, headers, body });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json };
    },
    async close() {
      await http.close();
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
      if (backend === 'postgres') await dropSchemas([schema]);
    },
  };
}

/** Everything a tenant has in storage, for "nothing was written" assertions. */
export async function snapshot(storage: Storage, tenant: string): Promise<string> {
  const sessions = await storage.listSessions(tenant, { limit: 1000 });
  const traces = await storage.listTraces(tenant, { limit: 1000 });
  const provenance = await Promise.all(traces.items.map((t) => storage.listProvenance(tenant, t.id)));
  const flags = await storage.listFlags(tenant);
  const quarantined = await storage.listQuarantined(tenant);
  const series = await storage.listRdSeries(tenant);
  const counters = await storage.getCounters(tenant);
  return JSON.stringify({ sessions, traces, provenance, flags, quarantined, series, counters });
}


/**
 * What a client can tell from an answer: status, content type and the problem document, with each
 * id in `ids` replaced by its name and the per-request `requestId` left out. Two answers that differ
 * only in the id they were asked about compare equal, so a tenant's 404 for another tenant's record
 * can be compared with its 404 for an id that exists nowhere.
 */
export function answerShape(res: Res, ids: Record<string, string>): unknown {
  let text = res.text;
  for (const [name, id] of Object.entries(ids)) text = text.split(id).join(`<${name}>`);
  const json = JSON.parse(text) as Record<string, unknown>;
  delete json.requestId;
  return { status: res.status, contentType: res.headers.get('content-type'), json };
}

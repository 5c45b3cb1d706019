/**
 * The loopback scaffolding every fake hosted-model API needs (test/runner-openai/fake-openai.ts,
 * test/runner-anthropic/fake-anthropic.ts): a 127.0.0.1 HTTP server that records each request
 * (parsed JSON body, the credential it carried, when it arrived), can play scripted responses
 * first, and closes with its connections. The vendor's wire format stays in each fake.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface ReceivedRequest {
  /** The credential as sent: `x-api-key`, or a bearer token from `authorization`. */
  key: string | undefined;
  method: string;
  /** The path as sent (still percent-encoded), without the query. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: any;
  at: number;
}

export interface PlannedResponse {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** One request as the vendor's handler sees it. */
export interface Exchange {
  request: ReceivedRequest;
  res: http.ServerResponse;
  /** Answers `value` as JSON. */
  json(status: number, value: unknown, headers?: Record<string, string>): void;
  /** Answers the next scripted response, if any; true when it did. */
  playPlanned(): boolean;
}

export interface FakeVendorServer {
  /** `http://127.0.0.1:<port>`, no path. */
  origin: string;
  requests: ReceivedRequest[];
  /** Scripted responses, consumed one per request by handlers that call `playPlanned`. */
  plan: PlannedResponse[];
  close(): Promise<void>;
}

/** Whitespace-separated words: the fakes' token count. */
export const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

export async function startFakeVendor(options: {
  handle(exchange: Exchange): void;
  /** Headers on every JSON answer (e.g. a request id), given the number of requests so far. */
  jsonHeaders?: (requestCount: number) => Record<string, string>;
}): Promise<FakeVendorServer> {
  const requests: ReceivedRequest[] = [];
  const plan: PlannedResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const key = (req.headers['x-api-key'] as string | undefined) ?? req.headers.authorization?.replace(/^Bearer /, '');
      const [path, query] = (req.url ?? '').split(/\?(.*)/s);
      const request: ReceivedRequest = { key, method: req.method ?? '', path: path!, query: new URLSearchParams(query ?? ''), headers: req.headers, body, at: performance.now() };
      requests.push(request);
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...options.jsonHeaders?.(requests.length), ...headers });
        res.end(JSON.stringify(value));
      };
      const playPlanned = () => {
        const planned = plan.shift();
        if (planned) json(planned.status, planned.body, planned.headers);
        return planned !== undefined;
      };
      options.handle({ request, res, json, playPlanned });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    plan,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port that was just free: nothing listens there (fetch refuses well-known ports such as 9 outright). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

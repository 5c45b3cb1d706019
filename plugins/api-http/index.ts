/**
 * api-http: the orchestrator over HTTP (Fastify 5), hardened — zod-validated input, problem+json
 * errors, API keys mapped to tenants, rate limits, request ids, redacted request logs — and the
 * `limit serve` command that runs it until SIGINT/SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { LimitError, definePlugin, packageVersion, parseNumberOption, type CommandRegistry, type PluginContext, type Runtime, type EnvOptional } from 'limit-graph';
import { ApiHttpOptions, HostText, configuredKeys, type ApiHttpOptionsInput } from './options.ts';
import { createKeyRing, type KeyRing } from './auth.ts';
import { buildApp } from './server.ts';
import type { Services } from './routes.ts';

export { ApiHttpOptions } from './options.ts';
export { buildApp } from './server.ts';

/** The server handle registered as `http`. */
export interface HttpServer {
  /** Builds the app once (running the httpRoutes hook); later calls return the same instance. */
  app(): Promise<FastifyInstance>;
  /** Builds if needed and listens; `port`/`host` override the options (port 0: a free port). */
  listen(override?: { port?: number; host?: string }): Promise<{ url: string; host: string; port: number }>;
  /** `http://host:port` while listening. */
  readonly url: string | undefined;
  /**
   * Stops accepting connections and waits for in-flight requests to finish (up to shutdownGraceMs,
   * then their connections are cut and their runs aborted); requests received meanwhile, and those
   * already sent but not yet read, are answered 503 (LIMIT_RUNTIME_CLOSED) unprocessed.
   * runtime.close() calls it first (its drain, before any session closes); calling it before is
   * fine too. It may return while the handlers of cut requests are still in the pipeline;
   * runtime.close() waits for those (the orchestrator's drain and dispose, each up to its
   * closeWaitMs) before storage closes.
   */
  close(): Promise<void>;
}

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { PORT: 'port', LIMIT_PORT: 'port', LIMIT_HOST: 'host', LIMIT_API_KEYS: 'apiKeys', LIMIT_AUTH_MODE: 'authMode' } as const;

declare module 'limit-graph' {
  interface Cradle {
    http: HttpServer;
  }
  interface PluginOptionsRegistry {
    'api-http': EnvOptional<ApiHttpOptionsInput, typeof ENV>;
  }
}

const version = packageVersion();

function services(ctx: PluginContext, readyTimeoutMs: number): Services {
  return {
    orchestrator: () => ctx.resolve('orchestrator'),
    governance: () => ctx.resolve('governance'),
    storage: () => ctx.resolve('storage'),
    has: (key) => ctx.has(key),
    keys: (prefix) => ctx.keys(prefix),
    rd: (name) => ctx.resolve(`rd:${name}`),
    knee: (name) => ctx.resolve(`knee:${name}`),
    runner: (key) => ctx.resolve(key as `runner:${string}`),
    version,
    startedAt: Date.now(),
    readyTimeoutMs,
  };
}

/** At most this long (and never past shutdownGraceMs), close() lets requests already sent be read and answered 503. */
const READ_SENT_MS = 2_000;

/**
 * Before the listener and the idle connections close (server.close() in Fastify's close), the
 * requests clients have already sent are read, so that each is answered 503 (draining) instead of
 * reset: a connection still queued at the listener would be reset when it closes, and one accepted
 * whose request is not read yet counts as idle and would be destroyed. The event loop goes round —
 * accepting, then reading — until a few turns in a row bring no new connection or request, or
 * `maxMs` has passed.
 */
async function readSentRequests(server: FastifyInstance['server'], maxMs: number): Promise<void> {
  let seen = 0;
  const count = () => void seen++;
  server.on('connection', count).on('request', count);
  try {
    const deadline = performance.now() + maxMs;
    for (let quiet = 0; quiet < 3 && performance.now() < deadline;) {
      const before = seen;
      await new Promise<void>((resolve) => setImmediate(resolve));
      quiet = seen === before ? quiet + 1 : 0;
    }
  } finally {
    server.off('connection', count).off('request', count);
  }
}

const parsePort = (value: string): number => parseNumberOption('--port', value, { integer: true, min: 0, max: 65_535 });

/**
 * `--host ""` (say `--host "$HOST"` with HOST unset) would bind every interface, and `--host
 * '0.0.0.0 '` fail only at listen: the plugin option and LIMIT_HOST refuse an empty or padded host,
 * and so does the flag.
 */
function parseHost(value: string): string {
  if (HostText.safeParse(value).success) return value;
  throw new LimitError('LIMIT_VALIDATION', `--host must not be empty or have leading or trailing spaces, got ${JSON.stringify(value)}`, {
    details: { field: '--host', value },
    fix: 'Pass --host <address>: 127.0.0.1 (local only, the default), 0.0.0.0 or :: (every interface), or leave --host out.',
  });
}

/** What a failed listen means for the person who ran `limit serve` (EADDRINUSE, a host that is not here, …). */
function listenError(error: unknown, host: string, port: number): LimitError {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const [message, fix] =
    code === 'EADDRINUSE'
      ? [`Cannot listen on ${where}: the port is already in use`, `Choose another --port (or LIMIT_PORT), or stop the process that listens on port ${port}.`]
      : code === 'EACCES'
        ? [`Cannot listen on ${where}: permission denied`, 'Ports below 1024 need privileges: choose a --port of 1024 or above.']
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL' || code === 'EAI_NONAME'
          ? [`Cannot listen on ${where}: "${host}" is not an address of this machine (or does not resolve)`, 'Pass a --host (or LIMIT_HOST) this machine has: 127.0.0.1 (local only), 0.0.0.0 or :: (every interface).']
          : [`Cannot listen on ${where}: ${code ?? (error as Error).message}`, 'Choose another --port or --host; the cause below says what the system refused.'];
  return new LimitError('LIMIT_LISTEN_FAILED', message, { plugin: 'api-http', cause: error, fix, details: { host, port, code } });
}

/** The certificate and key of options.tls, read once when the app is built; unreadable files name the option. */
async function readTls(ctx: PluginContext, tls: ApiHttpOptions['tls']): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!tls) return undefined;
  const read = async (field: 'cert' | 'key') => {
    const file = path.resolve(ctx.config.rootDir, tls[field]);
    try {
      return await readFile(file);
    } catch (error) {
      throw new LimitError('LIMIT_CONFIG_INVALID', `api-http: tls.${field}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
        plugin: ctx.name, cause: error, fix: 'Point tls.cert and tls.key at PEM files (paths relative to the config file), or set tls: false.',
      });
    }
  };
  const pem = { cert: await read('cert'), key: await read('key') };
  try {
    // Parses both and checks that the key belongs to the certificate, before Fastify would.
    createSecureContext(pem);
  } catch (error) {
    throw new LimitError('LIMIT_CONFIG_INVALID', `api-http: tls: ${tls.cert} and ${tls.key} are not a PEM certificate and its private key: ${error instanceof Error ? error.message : String(error)}`, {
      plugin: ctx.name, cause: error, fix: 'Give the certificate (chain) as tls.cert and its unencrypted private key as tls.key, both PEM.',
    });
  }
  return pem;
}

function registerServe(registry: CommandRegistry): void {
  registry.program
    .command('serve')
    .description('start the HTTP API and serve until SIGINT/SIGTERM (then finish in-flight requests and shut down; a second signal exits at once, killing running tasks)')
    .option('--port <port>', 'port to listen on (default: plugin option, env LIMIT_PORT / PORT, else 8787)')
    .option('--host <host>', 'address to bind (default 127.0.0.1)')
    .action(async (opts: { port?: string; host?: string }) => {
      const port = opts.port === undefined ? undefined : parsePort(opts.port);
      const host = opts.host === undefined ? undefined : parseHost(opts.host);
      const runtime: Runtime = await registry.runtime();
      if (!runtime.has('http')) {
        throw new LimitError('LIMIT_SERVICE_NOT_FOUND', 'limit serve needs the api-http plugin', {
          fix: "Enable it in limit.config.ts: plugins: { 'api-http': { ... } }.",
          details: { key: 'http' },
        });
      }
      const http = runtime.resolve('http');
      const stop = registry.untilStopped();
      const { url } = await http.listen({ port, host });
      registry.print(`limit-graph API listening on ${url} (docs: ${url}/docs)`);
      const signal = await stop;
      runtime.logger.info({ signal }, 'shutting down: finishing in-flight requests');
      // The CLI's policy (kernel/cli/interrupt.ts): a second signal exits at once, killing the
      // process groups of the tasks still running.
      await http.close();
      await runtime.close();
    });
}

export default definePlugin({
  meta: {
    name: 'api-http',
    version: '1.0.0',
    description: 'HTTP API (Fastify): sessions, runs, traces, provenance, governance, merges, RD, export; `limit serve`',
    provides: ['http'],
    dependsOn: ['orchestrator'],
    optionalDependsOn: ['storage', 'governance', 'runner:*', 'rd:*', 'knee:*'],
    // PORT first so that LIMIT_PORT, applied after it, wins when both are set.
    env: ENV,
  },
  options: ApiHttpOptions,
  setup(ctx, options) {
    const mode = options.authMode ?? options.auth.mode;
    // The options schema has read apiKeys and checked the ring already.
    const ring: KeyRing = createKeyRing(mode, configuredKeys(options));
    const svc = services(ctx, options.readyTimeoutMs);
    let built: Promise<FastifyInstance> | undefined;
    let url: string | undefined;
    let closing: Promise<void> | undefined;
    const draining = { value: false };

    const app = () =>
      (built ??= readTls(ctx, options.tls).then((tls) =>
        buildApp({ options, ring, services: svc, logger: ctx.logger, hooks: ctx.hooks, tenant: ctx.config.tenant, draining, tls }).then((r) => r.app)));

    const server: HttpServer = {
      app,
      get url() {
        return url;
      },
      async listen(override = {}) {
        if (ring.mode === 'apiKey' && ring.size === 0) {
          throw new LimitError('LIMIT_CONFIG_INVALID', 'api-http: auth.mode is "apiKey" but no API keys are configured, so every request would be refused', {
            plugin: ctx.name,
            fix: "Set LIMIT_API_KEYS=key:tenant (keys of 16+ characters) or plugins['api-http'].auth.keys; for local use only, auth: { mode: 'none' }.",
          });
        }
        const instance = await app();
        const host = override.host ?? options.host;
        await instance.listen({ port: override.port ?? options.port, host }).catch((error: unknown) => {
          throw listenError(error, host, override.port ?? options.port);
        });
        const address = instance.server.address();
        const port = typeof address === 'object' && address ? address.port : (override.port ?? options.port);
        url = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
        if (ring.mode === 'none') {
          // Configured keys are not read in this mode: a request with another tenant's key acts as config.tenant too.
          const ignored = ring.size > 0 ? `; the ${ring.size} configured API key(s) are ignored, so a request with any tenant's key acts as it too` : '';
          ctx.logger.warn({ tenant: ctx.config.tenant, host, ignoredKeys: ring.size }, "api-http: auth is 'none': every request acts as tenant %s without a key%s — for local use only", ctx.config.tenant, ignored);
        }
        ctx.logger.info({ url, auth: ring.mode, keys: ring.size }, 'api-http: listening');
        return { url, host, port };
      },
      close() {
        closing ??= (async () => {
          if (!built) return;
          const instance = await built.catch(() => undefined);
          if (!instance) return;
          draining.value = true;
          // In-flight requests get shutdownGraceMs to finish; then their sockets are cut.
          const timer = setTimeout(() => {
            ctx.logger.warn({ graceMs: options.shutdownGraceMs }, 'api-http: requests still running after the grace period; closing their connections');
            instance.server.closeAllConnections();
          }, options.shutdownGraceMs);
          try {
            await readSentRequests(instance.server, Math.min(READ_SENT_MS, options.shutdownGraceMs));
            await instance.close();
          } finally {
            clearTimeout(timer);
          }
          url = undefined;
        })();
        return closing;
      },
    };
    ctx.provide('http', server);

    if (options.listen) ctx.hooks.boot.tapPromise(ctx.name, async () => void (await server.listen()));
    ctx.hooks.cliCommands.tap(ctx.name, (registry) => registerServe(registry));
    // The first step of runtime.close() (before the orchestrator's drain and the sessions' close): the
    // requests in flight finish, their runs in open sessions. An embedder need not call close() first.
    ctx.hooks.drain.tapPromise(ctx.name, () => server.close());

    return {
      dispose: () => server.close(), // closed by the drain already, unless it failed
      // close() waits up to shutdownGraceMs for in-flight requests (drain, dispose): the kernel's limit comes on top.
      closeTimeoutMs: options.shutdownGraceMs + ctx.config.setupTimeoutMs,
      health: () => {
        const checks = [
          { name: 'auth', status: ring.mode === 'apiKey' && ring.size === 0 ? ('degraded' as const) : ring.mode === 'none' ? ('degraded' as const) : ('ok' as const),
            message: ring.mode === 'none' ? "auth 'none': local use only" : `${ring.size} API key(s)` },
          { name: 'listening', status: 'ok' as const, message: url ?? 'not listening (start with `limit serve`)' },
        ];
        return { status: checks[0]!.status, checks };
      },
    };
  },
});

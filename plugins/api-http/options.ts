import { isIP } from 'node:net';
import { MAX_JSON_DEPTH, decimalInt, durationMs, isLimitError, unpaddedText, z } from 'limit-graph';
import { ApiKey, createKeyRing, readKeyList } from './keys.ts';

export { ApiKey } from './keys.ts';

/**
 * A browser origin as browsers send it (`https://app.example.com`, `http://localhost:5173`): compared
 * exactly, so anything else (a trailing slash, a path, capitals, a default port, a `*.example.com`
 * pattern, `null`) would silently never match, or match pages it should not (`null` is every sandboxed
 * or file:// page). `*` allows any origin.
 */
const CorsOrigin = z.string().superRefine((value, ctx) => {
  if (value === '*') return;
  let origin: string | undefined;
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') origin = url.origin;
  } catch {
    // Not a URL: answered below.
  }
  if (origin === value) return;
  ctx.addIssue({
    code: 'custom',
    message: origin
      ? `"${value}" is not an origin as browsers send it (exact match): write "${origin}"`
      : `"${value}" is not an origin: expected "*" or scheme://host[:port] (http or https, no path; patterns and "null" are not supported)`,
  });
});

/**
 * The longest rate-limit window, 1 day. Buckets live in this process's memory only: a restart or a
 * second instance starts every budget afresh, so a longer window promises a quota the limiter cannot
 * keep. And a window is how long a throttled client waits (Retry-After), and how long new clients
 * without a key share one budget once rateLimit.maxClients is reached: up to 2^52 ms (which was
 * accepted) that was for ever — limiting in effect off with a large max, a lockout with a small one.
 */
export const MAX_TIME_WINDOW_MS = 86_400_000;
const TOO_LONG = 'A rate-limit window may be at most 1 day (86400000 ms): budgets are kept in memory and a throttled client waits out the window';

/**
 * The rate limiter would read a string it cannot parse as no window at all: every request then
 * failed with a 500 ('soon', '1 fortnight', '0 s') or went unlimited ('-5 minutes').
 */
const TimeWindowText = z
  .string()
  .min(1)
  .refine((value) => durationMs(value) !== undefined, {
    message: 'Expected ms (a positive integer) or an amount and a unit of at least 1 ms: "1 minute", "10s", "1.5h" (units ms, s, m/min, h, d, w)',
  })
  .refine((value) => (durationMs(value) ?? 0) <= MAX_TIME_WINDOW_MS, { message: TOO_LONG });

/**
 * One trusted proxy as proxy-addr reads it: an address, a CIDR range (`10.0.0.0/8`, an IPv4 range
 * may also give its mask: `10.0.0.0/255.0.0.0`) or a named range. Checked here so that a typo stops
 * the start naming trustProxy, not the first listen with proxy-addr's bare "invalid IP address".
 */
function proxyProblem(entry: string): string | undefined {
  const value = entry.trim();
  if (['loopback', 'linklocal', 'uniquelocal'].includes(value)) return undefined;
  const [address = '', range, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return `"${value}" is not an IP address, a CIDR range or loopback/linklocal/uniquelocal`;
  if (range === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (/^\d+$/.test(range) && Number(range) <= max) return undefined;
  if (family === 4 && isIP(range) === 4) {
    // A netmask: ones then zeros (255.255.0.0), as proxy-addr requires.
    const inverted = ~range.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
    if ((inverted & (inverted + 1)) === 0) return undefined;
  }
  return `"${value}" has an invalid range: expected /0–/${max}`;
}
const ProxyAddress = z.string().superRefine((value, ctx) => {
  const problem = proxyProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
/** A comma-separated list of trusted proxies (`'loopback, 10.0.0.0/8'`), not empty. */
const ProxyList = z.string().superRefine((value, ctx) => {
  const entries = value.split(',');
  if (value.trim() === '') ctx.addIssue({ code: 'custom', message: 'Expected trusted proxies (addresses, CIDR ranges, loopback…), true, a hop count, or false; got an empty string' });
  else for (const entry of entries) {
    const problem = proxyProblem(entry);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }
});


/** A number in the config; text from PORT / LIMIT_PORT (decimal digits). */
const Port = decimalInt(0, 65_535);

/** A host to listen on, as the option, LIMIT_HOST and `limit serve --host` take it: not empty, not padded. */
export const HostText = unpaddedText('a host address');

export const ApiHttpOptions = z
  .object({
    /** LIMIT_HOST=' 0.0.0.0 ' from an env file is refused here, not at listen after a full boot. */
    host: HostText.default('127.0.0.1'),
    /** 0 picks a free port (tests). Env: PORT, then LIMIT_PORT (LIMIT_PORT wins). */
    port: Port.default(8787),
    /** Listen in the boot hook (embedding, tests). `limit serve` listens regardless. */
    listen: z.boolean().default(false),
    auth: z
      .object({
        /** `none` maps every request to config.tenant: local use only (a warning is logged at start). */
        mode: z.enum(['apiKey', 'none']).default('apiKey'),
        keys: z.array(ApiKey).default([]),
      })
      .strict()
      .default({ mode: 'apiKey', keys: [] }),
    /** Env LIMIT_API_KEYS: `key1:tenantA,key2:tenantB/name`, or a JSON list of auth.keys entries (added to auth.keys; see auth.ts readKeyList). */
    apiKeys: z
      .string()
      .transform((value, ctx) => {
        // Read here, not in setup, so that `limit config` refuses what `serve` refuses; each problem
        // names its entry, and the line names the file or LIMIT_API_KEYS that set it.
        const { keys, problems } = readKeyList(value);
        for (const message of problems) ctx.addIssue({ code: 'custom', message, input: undefined });
        return keys;
      })
      .optional(),
    /** Env LIMIT_AUTH_MODE: overrides auth.mode (`apiKey` or `none`). */
    authMode: z.enum(['apiKey', 'none']).optional(),
    /** Cross-origin access: off unless origins are listed (exact `scheme://host[:port]`; `['*']` allows any origin). */
    cors: z
      .union([
        z.literal(false),
        z
          .object({ origins: z.array(CorsOrigin).min(1), credentials: z.boolean().default(false) })
          .strict()
          .refine((c) => !(c.credentials && c.origins.includes('*')), {
            path: ['credentials'],
            message: "credentials: true with origins ['*'] would let every website send credentialed requests; list the origins that may",
          }),
      ])
      .default(false),
    /** Largest accepted request body in bytes (413 above it). */
    bodyLimit: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    /** Deepest accepted JSON nesting: deeper bodies would overflow recursive serialisers (400 above it); at most MAX_JSON_DEPTH, storage's limit. */
    maxDepth: z.number().int().min(4).max(MAX_JSON_DEPTH).default(64),
    /** Largest graph (nodes) accepted by /rd/distortion and graph steps: FGW cost grows cubically. */
    maxGraphNodes: z.number().int().min(1).max(10_000).default(500),
    /**
     * Time limit of each FGW computation made for a request (/rd/distortion, graph steps of
     * /rd/series/:id/points), ms: past it the request fails with 422 LIMIT_RD_NOT_CONVERGED
     * (details.field 'timeLimitMs'). rd-fgw computes in its worker threads (distortionAsync), so this
     * bounds how long a request holds a thread, not the event loop; waiting for a free thread is not
     * counted. An RD algorithm without distortionAsync still computes on the event loop, bounded by it.
     */
    rdTimeLimitMs: z.number().int().min(1).max(600_000).default(5_000),
    /** Requests per API key (or per IP without a valid key) per time window; false disables. */
    rateLimit: z
      .union([
        z.literal(false),
        z.object({
          max: z.number().int().min(1).default(3000),
          timeWindow: z.union([z.number().int().min(1).max(MAX_TIME_WINDOW_MS, TOO_LONG), TimeWindowText]).default('1 minute'),
          /**
           * Most clients without a valid key (IPs, IPv6 /64s) with a budget of their own at once; past it,
           * new ones share one budget until a window ends. A throttled client's budget is never dropped.
           */
          maxClients: z.number().int().min(1).max(10_000_000).default(10_000),
        }).strict(),
      ])
      .default({ max: 3000, timeWindow: '1 minute', maxClients: 10_000 }),
    /**
     * Serve HTTPS with a PEM certificate (chain) and its unencrypted private key, paths relative to
     * the config file's folder. Off: plain HTTP, for 127.0.0.1 or behind a TLS-terminating proxy.
     */
    tls: z
      .union([z.literal(false), z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict()])
      .default(false),
    /**
     * Fastify's trustProxy: true, a hop count, or addresses/CIDRs of trusted proxies. `true` believes
     * X-Forwarded-For from any client: exposed without a proxy, clients would choose their own IP (and
     * so their rate-limit budget); prefer the proxy's addresses.
     */
    trustProxy: z.union([z.boolean(), z.number().int().min(0), ProxyList, z.array(ProxyAddress).min(1)]).default(false),
    /** One log line per request (method, url, status, time, request id); secrets are redacted. */
    logRequests: z.boolean().default(true),
    /** On shutdown, how long in-flight requests may take before their connections are closed, ms. */
    shutdownGraceMs: z.number().int().min(0).max(600_000).default(30_000),
    /** Time limit for each plugin health check behind GET /ready, ms. */
    readyTimeoutMs: z.number().int().min(10).max(60_000).default(5_000),
  })
  .strict()
  .superRefine((options, ctx) => {
    // One key for two tenants, or with two names: refused with the options (`limit config`), at
    // the later entry (auth.keys.<i>, or apiKeys: the file or LIMIT_API_KEYS that set it).
    try {
      createKeyRing(options.authMode ?? options.auth.mode, configuredKeys(options));
    } catch (error) {
      if (!isLimitError(error)) throw error;
      const option = Array.isArray(error.details?.option) ? (error.details.option as (string | number)[]) : [];
      ctx.addIssue({ code: 'custom', path: option, message: error.message, input: undefined });
    }
  });

/** auth.keys, then the keys of apiKeys (LIMIT_API_KEYS), each with the option it came from. */
export function configuredKeys(options: { auth: { keys: ApiKey[] }; apiKeys?: ApiKey[] | undefined }) {
  return [
    ...options.auth.keys.map((k, i) => ({ ...k, option: ['auth', 'keys', i] })),
    ...(options.apiKeys ?? []).map((k) => ({ ...k, option: ['apiKeys'] })),
  ];
}

export type ApiHttpOptions = z.output<typeof ApiHttpOptions>;
export type ApiHttpOptionsInput = z.input<typeof ApiHttpOptions>;

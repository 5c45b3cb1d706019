/**
 * HTTPS: with `tls: { cert, key }` the API listens over TLS (a self-signed certificate made here
 * with openssl), plain HTTP to the same port gets nowhere, and unreadable or mismatched PEM files
 * are configuration errors naming the option.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, isLimitError } from 'limit-graph';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'limit-api-tls-'));
  for (const name of ['server', 'other']) {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.crt`),
    ], { stdio: 'ignore' });
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (tls: false | { cert: string; key: string }) => ({
  storage: 'sqlite', dataDir: dir, logLevel: 'silent' as const,
  plugins: {
    'storage-sqlite': { path: ':memory:' }, governance: { packs: [] }, 'runner-python': { warm: false }, orchestrator: {},
    'api-http': { listen: true, port: 0, auth: { mode: 'none' as const }, tls },
  },
});

function get(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => void (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('api-http over HTTPS', () => {
  it('serves the API over TLS with the configured certificate; plain HTTP to the same port is refused', async () => {
    const rt = await createRuntime({ config: config({ cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') }) });
    try {
      const url = rt.resolve('http').url!;
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const health = await get(`${url}/health`, readFileSync(path.join(dir, 'server.crt')));
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
      // A client that does not trust the certificate is refused by TLS itself.
      await expect(get(`${url}/health`, readFileSync(path.join(dir, 'other.crt')))).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
      const plain = await fetch(url.replace('https:', 'http:') + '/health').then((r) => r.status, (e: unknown) => e);
      expect(plain === 400 || plain instanceof Error).toBe(true);
    } finally {
      await rt.resolve('http').close();
      await rt.close();
    }
  }, 30_000);

  it('names tls.cert when the file cannot be read, and refuses a key that is not the certificate\'s', async () => {
    const missing = await createRuntime({ config: config({ cert: 'nope.crt', key: 'server.key' }) }).then(() => undefined, (e: unknown) => e);
    expect(isLimitError(missing, 'LIMIT_CONFIG_INVALID')).toBe(true);
    expect((missing as Error).message).toMatch(/api-http: tls\.cert: cannot read .*nope\.crt: ENOENT/);
    const mismatched = await createRuntime({ config: config({ cert: path.join(dir, 'server.crt'), key: path.join(dir, 'other.key') }) }).then(() => undefined, (e: unknown) => e);
    expect(isLimitError(mismatched, 'LIMIT_CONFIG_INVALID')).toBe(true);
    expect((mismatched as Error).message).toMatch(/are not a PEM certificate and its private key/);
  }, 30_000);
});

/**
 * API keys configured in `plugins['api-http'].auth.keys[].key` never leave in clear text: not from
 * `limit config` (which promises "secrets redacted"), and not from a log line that carries a config
 * or the plugin's options.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, redactSecrets } from 'limit-graph';
import { runCli } from '../helpers/cli.ts';

const KEY_A = 'aaaaaaaaaaaaaaaaaaaa-tenantA';
const KEY_B = 'bbbbbbbbbbbbbbbbbbbb-tenantB';
const ENV_KEY = 'cccccccccccccccccccc-tenantC';

const apiOptions = () => ({
  auth: { mode: 'apiKey', keys: [{ key: KEY_A, tenant: 'tenant-a', name: 'alice' }, { key: KEY_B, tenant: 'tenant-b' }] },
  apiKeys: `${ENV_KEY}:tenant-c`,
  tls: { cert: 'certs/server.pem', key: 'certs/server-key.pem' },
});

describe('API keys are redacted', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-redact-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('limit config prints auth.keys[].key as [redacted] and keeps the non-secret fields', async () => {
    const config = path.join(dir, 'limit.config.json');
    writeFileSync(config, JSON.stringify({ storage: 'sqlite', dataDir: dir, plugins: { 'api-http': apiOptions() } }));
    for (const json of [false, true]) {
      const out = await runCli(['--config', config, 'config', ...(json ? ['--json'] : [])], { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent' } });
      expect(out.code, out.stderr).toBe(0);
      for (const secret of [KEY_A, KEY_B, ENV_KEY]) expect(out.stdout).not.toContain(secret);
      const resolved = JSON.parse(json ? out.stdout : out.stdout.slice(out.stdout.indexOf('\n') + 1));
      const api = resolved.plugins['api-http'];
      expect(api.auth.keys).toEqual([{ key: '[redacted]', tenant: 'tenant-a', name: 'alice' }, { key: '[redacted]', tenant: 'tenant-b' }]);
      expect(api.apiKeys).toBe('[redacted]');
      // A path to a PEM file is not a secret: tls.key is shown as configured.
      expect(api.tls).toEqual({ cert: 'certs/server.pem', key: 'certs/server-key.pem' });
    }
  });

  it('redactSecrets redacts key fields of key rings only', () => {
    expect(redactSecrets({ auth: { keys: [{ key: KEY_A, tenant: 't' }] }, tls: { key: 'k.pem' }, cache: { key: 'x' } })).toEqual({
      auth: { keys: [{ key: '[redacted]', tenant: 't' }] }, tls: { key: 'k.pem' }, cache: { key: 'x' },
    });
  });

  it('a log line carrying the config, the plugin options or the key ring shows no key', () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }) as never,
    });
    const options = apiOptions();
    logger.info({ config: { plugins: { 'api-http': options } } }, 'config');
    logger.info({ plugins: { 'api-http': options } }, 'plugins');
    logger.info({ options }, 'options');
    logger.info(options, 'options at the top');
    logger.info({ auth: options.auth }, 'auth');
    logger.info({ keys: options.auth.keys }, 'keys');
    logger.child({ plugin: 'api-http' }).info({ options }, 'child');
    expect(lines).toHaveLength(7);
    for (const line of lines) {
      for (const secret of [KEY_A, KEY_B, ENV_KEY]) expect(line).not.toContain(secret);
      expect(line).toContain('[redacted]');
      expect(line).toContain('tenant-a');
    }
    // Non-secret fields are left alone.
    expect(lines[2]).toContain('certs/server-key.pem');
  });
});

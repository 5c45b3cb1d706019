/** `limit serve` argument and listen errors, through the real CLI entry point (in-process). */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, writeServeConfig } from '../helpers/cli.ts';

describe('limit serve: bad --port / --host', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-serve-cli-'));
  const config = path.join(dir, 'limit.config.json');
  let busy: Server;
  let port: number;
  const cli = (...args: string[]) => runCli(['--config', config, 'serve', ...args], { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent' } });

  beforeAll(async () => {
    writeServeConfig(dir);
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => busy.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a port in use is LIMIT_LISTEN_FAILED with a fix, not an EADDRINUSE stack', async () => {
    const sigint = process.listenerCount('SIGINT');
    const r = await cli('--port', String(port));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^LIMIT_LISTEN_FAILED: Cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`));
    expect(r.stderr).toContain('fix: Choose another --port');
    expect(r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+\)?$/m);
    // The signal handlers of a server that never listened are not left behind.
    expect(process.listenerCount('SIGINT')).toBe(sigint);
  });

  it('a host that is not here is LIMIT_LISTEN_FAILED naming the host', async () => {
    const r = await cli('--host', '999.1.1.1', '--port', '0');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('LIMIT_LISTEN_FAILED: Cannot listen on 999.1.1.1:0: "999.1.1.1" is not an address of this machine');
    expect(r.stderr).toContain('fix: Pass a --host');
  });

  it.each(['', ' ', '0.0.0.0 '])('--host %j is LIMIT_VALIDATION naming the flag, not a server on every interface nor a failure at listen', async (value) => {
    const r = await cli('--host', value, '--port', '0');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`LIMIT_VALIDATION: --host must not be empty or have leading or trailing spaces, got ${JSON.stringify(value)}`);
    expect(r.stderr).toContain('fix: Pass --host <address>');
    expect(r.stdout).not.toContain('listening');
  });

  it.each(['', 'abc', '70000', '1.5'])('--port %j is LIMIT_VALIDATION', async (value) => {
    const r = await cli('--port', value);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`LIMIT_VALIDATION: --port must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  });
});

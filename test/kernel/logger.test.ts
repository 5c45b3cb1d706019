import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, createRuntime, definePlugin, LimitError, toLimitError } from 'limit-graph';

/** A logger at `level` and the JSON lines it wrote. */
function capture(level: 'info' | 'error' = 'info') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('logger', () => {
  it('redacts secrets in every line, for child loggers too', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const root = createLogger({ level: 'info', destination });
    const plugin = root.child({ plugin: 'runner-openai' });
    plugin.info({ apiKey: 'sk-live-1', options: { apiKey: 'sk-live-2', password: 'pw' }, req: { headers: { authorization: 'Bearer tok' } }, url: 'http://127.0.0.1:1' }, 'configured');
    plugin.child({ session: 's1' }).warn({ token: 'abc', connectionString: 'postgres://u:p@h/db' }, 'session');
    const [first, second] = lines.map((l) => JSON.parse(l));
    expect(first).toMatchObject({ plugin: 'runner-openai', apiKey: '[redacted]', options: { apiKey: '[redacted]', password: '[redacted]' }, req: { headers: { authorization: '[redacted]' } }, url: 'http://127.0.0.1:1' });
    expect(second).toMatchObject({ plugin: 'runner-openai', session: 's1', token: '[redacted]', connectionString: '[redacted]' });
    expect(lines.join('')).not.toMatch(/sk-live|Bearer tok|u:p@/);
  });

  it("an error's message carries each cause once: one its message quotes is not appended again", () => {
    const { logger, lines } = capture();
    const quoted = toLimitError(new Error('cannot release'), 'LIMIT_PLUGIN_DISPOSE_FAILED', { plugin: 'x', message: (reason) => `Plugin "x" failed to dispose: ${reason}` });
    logger.error({ err: quoted }, quoted.message);
    // A cause the message does not quote is still appended, once, as pino does; so is its own cause.
    const wrapped = new LimitError('LIMIT_STORAGE_UNAVAILABLE', 'Storage backend unavailable', { cause: new Error('ECONNREFUSED', { cause: new Error('socket closed') }) });
    logger.error({ err: wrapped }, 'storage');
    logger.error(new Error('plain'));
    const [first, second, third] = lines();
    expect(first!.msg).toBe('Plugin "x" failed to dispose: cannot release');
    expect(first!.err).toMatchObject({ type: 'LimitError', message: 'Plugin "x" failed to dispose: cannot release', code: 'LIMIT_PLUGIN_DISPOSE_FAILED' });
    expect(first!.err.stack).toContain('caused by: Error: cannot release');
    expect(second!.err.message).toBe('Storage backend unavailable: ECONNREFUSED: socket closed');
    expect(third!.err).toMatchObject({ type: 'Error', message: 'plain' });
  });

  it('a failing dispose is logged once with its cause, not "cannot release: cannot release"', async () => {
    const { logger, lines } = capture('error');
    const plugin = definePlugin({ meta: { name: 'leaky', version: '1.0.0' }, setup: () => ({ dispose: () => { throw new Error('cannot release'); } }) });
    const rt = await createRuntime({ config: { logLevel: 'error' }, plugins: [plugin], logger });
    const report = await rt.close();
    expect(report.errors.map((e) => e.message)).toEqual(['Plugin "leaky" failed to dispose: cannot release']);
    const line = lines().find((l) => l.err?.code === 'LIMIT_PLUGIN_DISPOSE_FAILED');
    expect(line).toMatchObject({ plugin: 'leaky', msg: 'Plugin "leaky" failed to dispose: cannot release', err: { message: 'Plugin "leaky" failed to dispose: cannot release' } });
  });
});

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from 'limit-graph';

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
});

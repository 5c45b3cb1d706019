/**
 * Child process of kv.test.ts, run under a file size limit (`ulimit -f`, SIGXFSZ ignored, so writes
 * past it fail with EFBIG as on a full disk): opens the KV store at argv[2], writes a batch too
 * large for the limit and single creates, then a small write, and prints each outcome as a JSON
 * line. Before the fix the failed commit ended the process (an unhandled rejection).
 */
import { makeSession, makeTrace } from 'limit-graph/testing';
import { KvStorage } from '../../plugins/storage-kv/index.ts';

process.on('SIGXFSZ', () => undefined);
const outcome = (e: unknown) => {
  const error = e as { name?: string; code?: string; message?: string; details?: unknown } | null;
  return error && { name: error.name, code: error.code, message: error.message, details: error.details };
};
const storage = new KvStorage({ path: process.argv[2]!, noSync: false, maxRecordBytes: 1 << 20 });
await storage.open();
await storage.createSession(makeSession('t', 's1'));
const big = (id: string) => ({ ...makeTrace('t', id, 's1'), metadata: { pad: 'x'.repeat(3000) } });
const ops = [{ op: 'incrementCounters' as const, deltas: { n: 5 } }, ...Array.from({ length: 200 }, (_, i) => ({ op: 'createTrace' as const, trace: big(`b${i}`) }))];
console.log(JSON.stringify({ step: 'batch', error: await storage.batch('t', ops).then(() => null, outcome) }));
console.log(JSON.stringify({ step: 'creates', error: await Promise.all(Array.from({ length: 200 }, (_, i) => storage.createTrace(big(`c${i}`)))).then(() => null, outcome) }));
await new Promise((resolve) => setTimeout(resolve, 100));
await storage.incrementCounters('t', { n: 1 });
console.log(JSON.stringify({ step: 'after', counters: await storage.getCounters('t'), b0: await storage.getTrace('t', 'b0'), c0: await storage.getTrace('t', 'c0') }));
await storage.close();

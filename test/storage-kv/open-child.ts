/**
 * Child process of damage.test.ts: opens the KV store at argv[2] with the plugin's KvStorage
 * (argv[3] = 'noSync' for noSync: true), reads every trace, closes, and prints the outcome as JSON;
 * exit code 1 when open or the reads failed. A damaged data.mdb must end here as an error, not as a
 * signal: LMDB crashes the process it runs in, so that process must not be the test runner.
 */
import { KvStorage } from '../../plugins/storage-kv/index.ts';

const storage = new KvStorage({ path: process.argv[2]!, noSync: process.argv[3] === 'noSync', maxRecordBytes: 1 << 20 });
try {
  await storage.open();
  const page = await storage.listTraces('t1', { limit: 1000 });
  await storage.close();
  console.log(JSON.stringify({ opened: true, traces: page.items.length }));
} catch (error) {
  const e = error as { name?: string; code?: string; message?: string };
  console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message }));
  process.exitCode = 1;
}

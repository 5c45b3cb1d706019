/**
 * Child process of sqlite.test.ts: opens the SQLite store at argv[2] and prints the outcome as JSON
 * ({ opened: true } or the error's name, code, message, details and fix). The test starts it as
 * another uid (nobody) when it runs as root, so that file permissions apply.
 */
import { SqliteStorage } from '../../plugins/storage-sqlite/index.ts';

const storage = new SqliteStorage({ file: process.argv[2]!, synchronous: 'normal', busyTimeoutMs: 1000, maxRecordBytes: 1 << 20 });
try {
  await storage.open();
  await storage.close();
  console.log(JSON.stringify({ opened: true }));
} catch (error) {
  const e = error as { name?: string; code?: string; message?: string; details?: unknown; fix?: string };
  console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, details: e.details, fix: e.fix }));
}

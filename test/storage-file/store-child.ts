/**
 * Child process for the storage-file store-lock tests (file.test.ts). Opens the file store at
 * `root` through createRuntime, as `limit serve` or a CLI command would, and prints `ready`; then
 *   hold:    does nothing until stdin says `stop`;
 *   batches: runs journaled batches (an append to trace `shared` + a counter increment: two files)
 *            and prints `ack <n>` after each, until stdin says `stop`.
 * Then closes the runtime and prints `closed <acks>`. A failure prints `error <code> <message>`.
 * Run as `node --import tsx store-child.ts <hold|batches> <root>`.
 */
import { createRuntime } from '../../kernel/index.ts';

const [mode, root] = process.argv.slice(2);
const write = (line: string) => new Promise<void>((resolve) => process.stdout.write(`${line}\n`, () => resolve()));
let stop = false;
process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
  if (chunk.includes('stop')) stop = true;
});
try {
  const runtime = await createRuntime({ config: { logLevel: 'silent', plugins: { 'storage-file': { root } } }, env: {} });
  const storage = runtime.resolve('storage');
  await write('ready');
  let acks = 0;
  while (!stop) {
    if (mode === 'batches') {
      await storage.batch('t', [
        { op: 'appendProvenance', input: { traceId: 'shared', at: new Date().toISOString(), actor: 'child', action: 'step', data: { n: acks } } },
        { op: 'incrementCounters', deltas: { acked: 1 } },
      ]);
      await write(`ack ${++acks}`);
    } else {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  process.stdin.pause();
  await runtime.close();
  await write(`closed ${acks}`);
} catch (error) {
  const e = error as { code?: string; message?: string };
  await write(`error ${e.code} ${e.message}`);
  process.exitCode = 1;
}

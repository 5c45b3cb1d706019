/**
 * Child process for the multi-process and crash tests (see storage-process.ts). Opens the backend
 * named by plugin name through createRuntime — exactly as an application would — and writes:
 *   append: `count` provenance entries to one trace, then prints `done <count>`;
 *   rdAppend: `count` points without `step` to one RD series, then prints `done <count>`;
 *           both in rounds of `roundSize`: after `ready` and after each `round <r>` it prints, it
 *           waits for a `go` line, which the parent sends once every writer got there;
 *   crash:  forever: a trace, a provenance entry and a counter increment per step, printing
 *           `ack <id>` only after all three were acknowledged, until the parent SIGKILLs it.
 * Run as `node --import tsx storage-child.ts '<json spec>'`.
 */
import { createRuntime } from '../../kernel/index.ts';
import type { ChildSpec } from './storage-process.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec;
const runtime = await createRuntime({
  config: { logLevel: 'silent', plugins: { [spec.plugin]: spec.options } },
  // The parent's STORAGE_BACKEND / DATABASE_URL must not override the spec.
  env: {},
});
const storage = runtime.resolve('storage');
const write = (line: string) => new Promise<void>((resolve) => process.stdout.write(`${line}\n`, () => resolve()));

if (spec.mode === 'append' || spec.mode === 'rdAppend') {
  // Gate: the parent sends one `go` line to start each round, after every writer has booted (the
  // first) or reported the previous round (the others), so every round starts as a real race.
  const gos: Array<() => void> = [];
  let credits = 0;
  let pending = '';
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      if (pending.slice(0, nl).trim() === 'go') {
        const next = gos.shift();
        if (next) next();
        else credits++;
      }
      pending = pending.slice(nl + 1);
    }
  });
  const go = () => new Promise<void>((resolve) => {
    if (credits > 0) {
      credits--;
      resolve();
    } else gos.push(resolve);
  });
  const roundSize = spec.roundSize;
  await write('ready');
  await go();
  for (let i = 0; i < spec.count; i++) {
    if (i > 0 && i % roundSize === 0) {
      await write(`round ${i / roundSize - 1}`);
      await go();
    }
    if (spec.mode === 'append') {
      await storage.appendProvenance(spec.tenant, {
        traceId: spec.traceId, at: new Date().toISOString(), actor: spec.writer, action: 'append', data: { writer: spec.writer, i },
      });
    } else {
      // No step: storage gives the next one in the append's transaction.
      await storage.appendRdPoint(spec.tenant, spec.seriesId, { rate: i, distortion: 1, meta: { writer: spec.writer, i } });
    }
  }
  process.stdin.pause();
  await runtime.close();
  await write(`done ${spec.count}`);
} else {
  await write('ready');
  for (let i = 0; ; i++) {
    const id = `${spec.writer}-${i}`;
    await storage.createTrace({
      id, sessionId: 'crash', tenant: spec.tenant, parentIds: [], runner: 'crash-test',
      task: { input: `step ${i}`, kind: 'code' }, status: 'ok', flags: [], createdAt: new Date().toISOString(), metadata: { i },
    });
    await storage.appendProvenance(spec.tenant, { traceId: spec.traceId, at: new Date().toISOString(), actor: spec.writer, action: 'step', data: { id } });
    await storage.incrementCounters(spec.tenant, { acknowledged: 1 });
    await write(`ack ${id}`);
  }
}

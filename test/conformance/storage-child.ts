/**
 * Child process for the multi-process and crash tests (see storage-process.ts). Opens the backend
 * named by plugin name through createRuntime — exactly as an application would — and writes:
 *   append: `count` provenance entries to one trace, then prints `done <count>`;
 *   rdAppend: `count` points without `step` to one RD series, then prints `done <count>`;
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
  // Barrier: every writer starts at once, after all have booted, so that their appends really race.
  await write('ready');
  await new Promise<void>((resolve) => {
    process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('go')) resolve();
    });
  });
  process.stdin.pause();
  for (let i = 0; i < spec.count; i++) {
    if (spec.mode === 'append') {
      await storage.appendProvenance(spec.tenant, {
        traceId: spec.traceId, at: new Date().toISOString(), actor: spec.writer, action: 'append', data: { writer: spec.writer, i },
      });
    } else {
      // No step: storage gives the next one in the append's transaction.
      await storage.appendRdPoint(spec.tenant, spec.seriesId, { rate: i, distortion: 1, meta: { writer: spec.writer, i } });
    }
    // A synchronous driver appends in one uninterrupted burst; short sleeps let the OS interleave writers.
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, 1));
  }
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

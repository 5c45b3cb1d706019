/**
 * A batch op's failure names the op and keeps what the error says about its cause: code, fix,
 * plugin and details (plus the op's index), in the kernel's validation and in the backends.
 */
import { describe, expect, it } from 'vitest';
import { LimitError, atBatchOp, validate } from 'limit-graph';
import { makeTrace } from 'limit-graph/testing';
import { SqliteStorage } from '../../plugins/storage-sqlite/index.ts';

describe('batch op errors', () => {
  it('atBatchOp prefixes the message and keeps code, fix, plugin, hook and details', () => {
    const cause = new LimitError('LIMIT_STORAGE_UNAVAILABLE', 'locked', { fix: 'Find the lock holder.', plugin: 'storage-x', hook: 'h', details: { lockTimeoutMs: 5 } });
    const error = atBatchOp(cause, 'batch op 2 (updateTrace)', 2) as LimitError;
    expect(error).toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: 'batch op 2 (updateTrace): locked', fix: 'Find the lock holder.', plugin: 'storage-x', hook: 'h', details: { index: 2, lockTimeoutMs: 5 }, cause });
    const other = new Error('raw');
    expect(atBatchOp(other, 'batch op 0 (createTrace)', 0)).toBe(other);
  });

  it("validate.batch keeps an op's fix (a value JSON cannot hold)", () => {
    const trace = makeTrace('t', 'a', 's', undefined, { metadata: { x: Number.NaN } });
    const error = (() => { try { validate.batch('t', [{ op: 'createTrace', trace }]); return null; } catch (e) { return e as LimitError; } })();
    expect(error).toMatchObject({ code: 'LIMIT_VALIDATION', details: { index: 0 } });
    expect(error!.message).toMatch(/^Invalid batch op 0 \(createTrace\): /);
    expect(error!.fix).toMatch(/Store only JSON values/);
  });

  it("storage-sqlite's batch keeps an op's fix (a record over maxRecordBytes)", async () => {
    const s = new SqliteStorage({ file: ':memory:', synchronous: 'normal', busyTimeoutMs: 100, maxRecordBytes: 1024 });
    await s.open();
    try {
      const big = makeTrace('t', 'big', 's', undefined, { metadata: { blob: 'x'.repeat(2000) } });
      const error = await s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'ok', 's') }, { op: 'createTrace', trace: big }]).then(() => null, (e: unknown) => e as LimitError);
      expect(error).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { index: 1 } });
      expect(error!.message).toMatch(/^batch op 1 \(createTrace\): /);
      expect(error!.fix).toMatch(/maxRecordBytes/);
    } finally {
      await s.close();
    }
  });
});

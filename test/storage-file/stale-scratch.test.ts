/**
 * A process that dies between writing a temp file and renaming it leaves `<file>.<pid>.<hex>.tmp`
 * behind, and a create that never committed leaves its empty folder: the next holder of the store
 * removes them (its own files and every user file are left alone).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSession, makeTrace } from 'limit-graph/testing';
import { FileStorage } from '../../plugins/storage-file/index.ts';

const open = async (root: string) => {
  const s = new FileStorage({ root, fsync: false, maxRecordBytes: 4 * 1024 * 1024, staleLockMs: 30_000 });
  await s.open();
  return s;
};

describe('storage-file: what a dead writer left behind', () => {
  it('removes stale temp files and probes (root and tenant folders) and empty folders of uncommitted creates, never other files', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'limit-file-scratch-'));
    let s = await open(root);
    const session = await s.createSession(makeSession('default', 's1'));
    const trace = await s.createTrace(makeTrace('default', 't1', session.id));
    await s.close();

    const tenantDir = path.join(root, 'tenants', 'default');
    const sessionDir = path.join(tenantDir, 'sessions', session.id);
    const traceDir = path.join(sessionDir, 'traces', trace.id);
    const dead = 999_999; // no such pid here
    const stale = [
      path.join(traceDir, `trace.json.${dead}.0a1b2c3d.tmp`),
      path.join(traceDir, `provenance.jsonl.${dead}.0a1b2c3e.tmp`),
      path.join(traceDir, `provenance.jsonl.torn-1764280000000.${dead}.0a1b2c3f.tmp`),
      path.join(sessionDir, `session.json.${dead}.deadbeef.tmp`),
      path.join(tenantDir, `counters.json.${dead}.00ff00ff.tmp`),
      path.join(root, `schema.json.${dead}.12345678.tmp`),
      path.join(root, `.probe-${dead}-abcdef01`),
      path.join(root, `.health-${dead}-123e4567-e89b-12d3-a456-426614174000.json`),
    ];
    const kept = [
      path.join(traceDir, 'notes.tmp'), // a user's file, not this store's pattern
      path.join(traceDir, `trace.json.${process.pid}.0a1b2c3d.tmp`), // this process's own: may be in flight
      path.join(root, 'backup.json.tmp'),
      path.join(traceDir, `notes.txt.${dead}.0a1b2c3d.tmp`), // not a name this store writes
    ];
    for (const f of [...stale, ...kept]) writeFileSync(f, '{');
    const emptyTrace = path.join(sessionDir, 'traces', 'never-created');
    mkdirSync(emptyTrace);
    const emptySession = path.join(tenantDir, 'sessions', 'never-opened', 'traces');
    mkdirSync(emptySession, { recursive: true });

    s = await open(root);
    expect((await s.listTraces('default')).items.map((t) => t.id)).toEqual([trace.id]);
    await s.close();
    expect(stale.filter((f) => existsSync(f))).toEqual([]);
    expect(kept.filter((f) => !existsSync(f))).toEqual([]);
    expect(existsSync(emptyTrace)).toBe(false);
    expect(existsSync(path.dirname(emptySession))).toBe(false);
    expect(existsSync(traceDir)).toBe(true);
  });
});

/**
 * `limit demo` through the real CLI entry point on the project's own configuration (the embedded
 * default: SQLite, governance `default`, the Python runner, the RD plugins), with LIMIT_DATA_DIR
 * pointing at a temporary folder so the repository's .limit/ is never touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRuntime } from 'limit-graph';
import { runCli } from '../helpers/cli.ts';
import type { DemoSummary } from '../../plugins/orchestrator/demo.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('limit demo', () => {
  let dataDir: string;
  const cli = (...args: string[]) => runCli(args, { cwd: ROOT, env: { ...process.env, LIMIT_DATA_DIR: dataDir, LIMIT_LOG_LEVEL: 'silent' } });

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'limit-demo-test-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints a clean run, a blocked run that never executed, a merge, a knee and a verified export', async () => {
    const out = path.join(dataDir, 'export-text');
    const { code, stdout, stderr } = await cli('demo', '--out', out);
    expect(code, stderr).toBe(0);
    const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
    expect(stdout).toMatch(new RegExp(`^LIMIT-Graph demo — session ${uuid} \\(runner: python\\)`));
    expect(stdout).toMatch(/1\. clean run +ok +stdout: 285\n/); // sum of squares 0..9
    expect(stdout).toMatch(/2\. jailbreak run +blocked +executed: no \(runner never called\); flags: Jailbreak\(\d+\) jailbreak\./);
    expect(stdout).toMatch(new RegExp(`3\\. merge +ok +${uuid} ← ${uuid} \\+ ${uuid}\\n`));
    expect(stdout).toMatch(/4\. RD refinement +8 steps, knee \(kneedle\): step \d+ \(rate \d+, distortion \d+\.\d{4}\)/);
    expect(stdout).toContain(`5. export         verified: ${path.join(out, 'artifact.json')}`);
    for (const part of ['sessions', 'traces', 'provenance', 'flags', 'checkpoints', 'rdSeries']) {
      expect(stdout).toMatch(new RegExp(`sha256 ${part} +[0-9a-f]{64}`));
    }
    // What it wrote is a real artifact that `limit verify` accepts.
    const verified = await cli('verify', path.join(out, 'artifact.json'));
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/OK — 6 parts match their SHA-256 digests, 4 provenance chains verify/);
  });

  it('--out holding an earlier export is refused before the demo runs: nothing is added to the store', async () => {
    const out = path.join(dataDir, 'export-twice');
    const first = await cli('demo', '--out', out);
    expect(first.code, first.stderr).toBe(0);
    const counts = async () => {
      const rt = await createRuntime({ config: { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlite': { path: path.join(dataDir, 'limit.db') } } } });
      try {
        const storage = rt.resolve('storage');
        const sessions = await storage.listSessions(rt.config.tenant, { limit: 1000 });
        return sessions.items.length;
      } finally {
        await rt.close();
      }
    };
    const before = await counts();
    const again = await cli('demo', '--out', out);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`LIMIT_VALIDATION: --out ${out}: already holds artifact.json`);
    expect(await counts()).toBe(before);
  });

  it.each([
    ['openai', "Enable the plugin runner-openai in limit.config.ts (plugins: { 'runner-openai': { … } }), or pass --runner python (loaded)."],
    ['nosuch', 'No built-in plugin provides runner "nosuch": enable the plugin that does in limit.config.ts, or pass --runner python (loaded).'],
  ])('--runner %s that is not loaded: the fix names that runner, not runner-python', async (runner, fix) => {
    const r = await cli('demo', '--runner', runner, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: 'LIMIT_RUNNER_NOT_FOUND', message: `The demo needs runner "${runner}", which is not loaded (loaded runners: python)`, fix, details: { runner, available: ['python'] },
    });
  });

  it('--json: one document; the blocked trace has no "executed" provenance entry (the runner was never called)', async () => {
    const out = path.join(dataDir, 'export-json');
    const { code, stdout, stderr } = await cli('demo', '--json', '--out', out);
    expect(code, stderr).toBe(0);
    const s = JSON.parse(stdout) as DemoSummary;
    expect(s.clean).toMatchObject({ status: 'ok', stdout: '285' });
    expect(s.blocked).toMatchObject({ status: 'blocked', executed: false });
    expect(s.blocked.flags.some((f) => f.startsWith('Jailbreak'))).toBe(true);
    expect(s.merge.status).toBe('ok');
    // The clean run and a second, distinct run (not the clean one twice, not the blocked one).
    expect(s.merge.parentIds).toHaveLength(2);
    expect(s.merge.parentIds[0]).toBe(s.clean.traceId);
    expect(s.merge.parentIds[1]).not.toBe(s.clean.traceId);
    expect(s.merge.parentIds[1]).not.toBe(s.blocked.traceId);
    expect(s.rd).toMatchObject({ detector: 'kneedle', points: 8 });
    expect(s.rd.knee).not.toBeNull();
    expect(s.export.verified).toBe(true);
    expect(s.export.kept).toBe(true);
    expect(s.export.files).toEqual([path.join(out, 'artifact.json')]);
    const artifact = JSON.parse(readFileSync(path.join(out, 'artifact.json'), 'utf8')) as { manifest: { parts: Record<string, { sha256: string }>; provenance: { verified: boolean } } };
    expect(artifact.manifest.provenance.verified).toBe(true);
    expect(Object.fromEntries(Object.entries(artifact.manifest.parts).map(([k, v]) => [k, v.sha256]))).toEqual(s.export.digests);

    // The demo used the temporary data dir; read its records back from that SQLite file.
    const db = path.join(dataDir, 'limit.db');
    expect(existsSync(db)).toBe(true);
    const rt = await createRuntime({ config: { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlite': { path: db } } } });
    try {
      const storage = rt.resolve('storage');
      const tenant = rt.config.tenant;
      const actions = (id: string) => storage.listProvenance(tenant, id).then((entries) => entries.map((e) => e.action));
      // The whole chains: the blocked trace is flagged then blocked, with no 'executed' entry; the clean one has each entry once.
      expect(await actions(s.blocked.traceId)).toEqual(['created', 'flagged', 'blocked']);
      expect(await actions(s.clean.traceId)).toEqual(['created', 'executed', 'completed']);
      expect((await storage.getSession(tenant, s.sessionId))?.status).toBe('closed');
    } finally {
      await rt.close();
    }
  });

  it('without --out, the export goes to a temporary folder that is removed at the end', async () => {
    // os.tmpdir() follows TMPDIR: a folder of its own shows whatever the demo leaves behind.
    const tmp = mkdtempSync(path.join(dataDir, 'tmp-'));
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const text = await cli('demo');
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain('5. export         verified: artifact.json (in a temporary folder, removed; --out DIR keeps it)');
      const json = await cli('demo', '--json');
      expect(json.code, json.stderr).toBe(0);
      const s = JSON.parse(json.stdout) as DemoSummary;
      expect(s.export).toMatchObject({ verified: true, kept: false });
      expect(s.export.dir.startsWith(path.join(tmp, 'limit-demo-'))).toBe(true);
      expect(existsSync(s.export.dir)).toBe(false);
      // Besides tsx's compile cache (tsx-<uid>): rd-fgw's worker thread, started from the TypeScript
      // sources, loads them through tsx, which caches in os.tmpdir() — as `limit` run from a
      // checkout always did; the installed package runs no tsx.
      expect(readdirSync(tmp).filter((name) => !/^tsx-\d+$/.test(name))).toEqual([]);
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
  });
});

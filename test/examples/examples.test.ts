/** Every example runs here, on the real plugins (SQLite, the governance engine, the Python runner). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main as basic } from '../../examples/basic-session.ts';
import { main as federation, shellAdvisor } from '../../examples/federated-orchestration.ts';
import { createRuntime } from 'limit-graph';
import { main as benchmark, parseBenchmarkArgs, percentiles } from '../../examples/agent-benchmark.ts';
import { main as advanced, envLeakRule } from '../../examples/advanced-features.ts';

describe('examples', () => {
  it('basic-session: clean, failing and blocked runs, each with a verified chain', async () => {
    const s = await basic();
    expect(s.runs.map((r) => r.status)).toEqual(['ok', 'ok', 'error', 'blocked']);
    expect(s.runs[0]!.stdout).toBe('5050');
    expect(s.runs[1]!.stdout).toBe('{"squares": [0, 1, 4, 9, 16]}');
    expect(s.runs[3]!.executed).toBe(false);
    expect(s.runs[3]!.flags.some((f) => f.startsWith('Jailbreak'))).toBe(true);
    expect(s.runs.every((r) => r.verified && r.provenance[0] === 'created')).toBe(true);
    expect(s.sessionStatus).toBe('closed');
  });

  it('federated-orchestration: the quarantined branch is excluded from the merge and refused in an explicit one', async () => {
    const s = await federation();
    const advisor = s.branches.find((b) => b.label === 'shell-advisor')!;
    expect(advisor.status).toBe('quarantined');
    expect(advisor.excluded).toMatch(/status quarantined/);
    expect(s.branches.filter((b) => b.status === 'ok').map((b) => b.stdout)).toEqual(['disk has free space', 'disk has free space']);
    expect(s.aggregate).toMatchObject({ strategy: 'majority', ok: true, stdout: 'disk has free space' });
    expect(s.merge?.status).toBe('ok');
    expect(s.merge?.parentIds).toHaveLength(2);
    expect(s.merge?.excluded.map((e) => e.reason).join()).toMatch(/quarantined/);
    expect(s.refusedMerge?.code).toBe('LIMIT_MERGE_REFUSED');
    expect(s.refusedMerge?.refusals.some((r) => r.reason.includes('quarantined'))).toBe(true);
  });

  it('agent-benchmark: success rate and latency percentiles', async () => {
    const s = await benchmark({ tasks: 10, concurrency: 3 });
    expect(s.byStatus).toEqual({ ok: 8, error: 2 });
    expect(s.successRate).toBe(0.8);
    expect(s.expectedFailures).toBe(2);
    expect(s.runnerLatencyMs.p50).toBeGreaterThan(0);
    expect(s.pipelineLatencyMs.p99).toBeGreaterThanOrEqual(s.pipelineLatencyMs.p50);
    expect(s.pipelineLatencyMs.p50).toBeGreaterThanOrEqual(s.runnerLatencyMs.p50);
    expect(percentiles([5, 1, 4, 2, 3])).toEqual({ p50: 3, p90: 5, p99: 5, max: 5 });
  });

  it('agent-benchmark: a task count or concurrency that is not a whole number in range is refused, naming it', async () => {
    expect(parseBenchmarkArgs([])).toEqual({});
    expect(parseBenchmarkArgs(['12', '3'])).toEqual({ tasks: 12, concurrency: 3 });
    // Each used to be read as "not given" (NaN, 0) or run a fraction of a task, silently.
    expect(() => parseBenchmarkArgs(['abc'])).toThrow('agent-benchmark: tasks must be an integer from 1 to 10000, got "abc"');
    expect(() => parseBenchmarkArgs(['0'])).toThrow(/tasks must be .*got "0"/);
    expect(() => parseBenchmarkArgs(['2.5'])).toThrow(/tasks must be .*got "2.5"/);
    expect(() => parseBenchmarkArgs(['10', '0x4'])).toThrow('agent-benchmark: concurrency must be an integer from 1 to 1024, got "0x4"');
    expect(() => parseBenchmarkArgs(['10', '1e3'])).toThrow(/concurrency must be .*got "1e3"/);
    expect(() => parseBenchmarkArgs([' 8'])).toThrow(/tasks must be .*got " 8"/);
    expect(() => parseBenchmarkArgs(['10001'])).toThrow(/tasks must be .*got "10001"/);
    expect(() => parseBenchmarkArgs(['10', '4', '9'])).toThrow(/at most two arguments/);
    await expect(benchmark({ tasks: 0 })).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringMatching(/tasks must be/) });
    await expect(benchmark({ tasks: 5, concurrency: 2000 })).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: 'agent-benchmark: concurrency must be an integer from 1 to 1024, got "2000"', details: { field: 'concurrency' } });
    await expect(benchmark({ tasks: 2.5 })).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: 'agent-benchmark: tasks must be an integer from 1 to 10000, got "2.5"' });
  });

  it('advanced-features: the custom rule quarantines before execution, the FGW loop has its knee, the export verifies', async () => {
    const s = await advanced();
    // The inline rule is the only finding on `print(dict(os.environ))`; HighRisk 8 quarantines at input.
    expect(s.customRule).toMatchObject({ status: 'quarantined', executed: false, flags: ['HighRisk:8:example.env-leak'] });
    expect(envLeakRule.evaluate({ surface: 'input', field: 'task.input', text: 'print("hi")', trace: undefined as never }, undefined as never)).toEqual([]);

    // Eight steps, rate = nodes + edges of a 2(i+1)-node path; FGW distortion to the 16-node
    // reference falls monotonically to 0 at the identical graph (solver rounding read as 0).
    expect(s.rd.points.map((p) => p.rate)).toEqual([3, 7, 11, 15, 19, 23, 27, 31]);
    const d = s.rd.points.map((p) => p.distortion);
    for (let i = 1; i < d.length; i++) expect(d[i]!).toBeLessThan(d[i - 1]!);
    expect(d.at(-1)).toBe(0);
    expect(d[0]).toBeCloseTo(18.5358, 3);
    expect(s.rd.detector).toBe('kneedle');
    expect(s.rd.knee).toMatchObject({ step: 3, rate: 15 });
    expect(s.rd.knee!.distortion).toBeCloseTo(6.3301, 3);

    expect(s.export.format).toBe('jsonl');
    // Two traces (the quarantined leak, the clean neighbour), one RD series, the leak's one flag.
    expect(s.export.parts).toMatchObject({ sessions: 1, traces: 2, flags: 1, rdSeries: 1 });
    expect(s.export.verified).toBe(true);
    expect(s.export.tamperedVerified).toBe(false);
    // The part's digest, and the trace no longer bound to its chain (its input was the text changed).
    expect(s.export.tamperedProblems).toHaveLength(3);
    expect(s.export.tamperedProblems[0]).toMatch(/^part "traces": SHA-256 [0-9a-f]{64} does not match the manifest/);
    expect(s.export.tamperedProblems[1]).toMatch(/^trace \S+: provenance chain broken at seq 0 \(the trace's task input does not match the digest its first entry recorded\)$/);
    expect(s.export.tamperedProblems[2]).toMatch(/^trace \S+: chain differs from the manifest \(verified false, manifest true\)$/);
  });
});

// The example's runner keeps the Runner contract it shows: health() has a capability:<key> check,
// not ok and with a reason, for each limit it cannot enforce — what `limit doctor` prints for it.
it('federated-orchestration: the shell-advisor runner reports the limits it cannot enforce', async () => {
  const rt = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [shellAdvisor] });
  try {
    const runner = rt.resolve('runner:shell-advisor');
    const unenforced = Object.entries(runner.capabilities).filter(([, on]) => on === false).map(([key]) => `capability:${key}`);
    expect(unenforced.length).toBeGreaterThan(0);
    const [doctor] = await rt.health();
    expect(doctor!.status).not.toBe('ok');
    for (const name of unenforced) {
      const check = doctor!.checks.find((c) => c.name === name);
      expect(check, name).toBeDefined();
      expect(check!.status).not.toBe('ok');
      expect(check!.message).toBeTruthy();
    }
  } finally {
    await rt.close();
  }
});

// A runtime that cannot be created (here: a storage backend no plugin provides) leaves no temporary
// folder behind, and an example run as a script says why as the CLI does, exit 1, without a stack.
describe('examples: when createRuntime fails', () => {
  const mains: [string, () => Promise<unknown>, string][] = [
    ['basic-session', basic, 'limit-basic-'],
    ['advanced-features', advanced, 'limit-advanced-'],
    ['federated-orchestration', federation, 'limit-federation-'],
    ['agent-benchmark', () => benchmark({ tasks: 1 }), 'limit-bench-'],
  ];

  it.each(mains)('%s: main() rejects with the LimitError and removes its temporary folder', async (_name, run, prefix) => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'limit-examples-fail-'));
    const saved = { TMPDIR: process.env.TMPDIR, STORAGE_BACKEND: process.env.STORAGE_BACKEND };
    process.env.TMPDIR = tmp;
    process.env.STORAGE_BACKEND = 'nosuch';
    try {
      await expect(run()).rejects.toMatchObject({ code: 'LIMIT_PLUGIN_NOT_FOUND' });
      expect(readdirSync(tmp).filter((f) => f.startsWith(prefix))).toEqual([]);
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it.each([...mains.map(([name]) => name), 'custom-plugin'])('%s as a script: CODE: message and fix on stderr, exit 1', (name) => {
    const root = path.resolve(import.meta.dirname, '../..');
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'limit-examples-fail-'));
    try {
      // custom-plugin builds its runtime from its own plugin alone (no storage): a bad log level fails it there.
      const env = { ...process.env, TMPDIR: tmp, ...(name === 'custom-plugin' ? { LIMIT_LOG_LEVEL: 'nosuch' } : { STORAGE_BACKEND: 'nosuch' }) };
      const r = spawnSync(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'examples', `${name}.ts`)], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^LIMIT_[A-Z_]+: [^]*\n {2}fix: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(tmp).filter((f) => f.startsWith('limit-'))).toEqual([]); // tsx keeps its cache there too
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});

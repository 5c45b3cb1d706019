/**
 * Artifact export and verification: consistent snapshots of traces written during an export (on
 * SQLite and PostgreSQL), refused inputs, malformed artifacts, CSV completeness, text that is not
 * well-formed Unicode, and exports too large to build.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_EXPORT_TRACE_IDS, createRuntime, type ArtifactExport, type LimitError, type Checkpoint, type Flag, type Orchestrator, type ProvenanceEntry, type Runtime, type Storage, type Trace } from 'limit-graph';
import { packPlugins } from '../governance/helpers.ts';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';
import { runCli } from '../helpers/cli.ts';
import { makeTrace } from 'limit-graph/testing';
import { parseCsvObjects } from '../../plugins/orchestrator/csv.ts';
import { ArtifactBudget, MAX_ARTIFACT_CHARS, buildArtifact, textChars, type ArtifactData } from '../../plugins/orchestrator/artifact.ts';
import { dropSchemas, storagePlugins, uniqueSchema, type Backend } from '../helpers/storage-backend.ts';


interface Fixture {
  rt: Runtime;
  orch: Orchestrator;
  storage: Storage;
  cleanup(): Promise<void>;
}


/** A runtime with real storage, the real governance engine and rule packs, and the spy runner. */
async function fixture(backend: Backend = 'sqlite'): Promise<Fixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-artifact-'));
  const schema = uniqueSchema('orch_artifact');
  
  const rt = await createRuntime({
    config: { logLevel: 'silent', storage: backend, plugins: { ...storagePlugins(backend, { sqlitePath: path.join(dir, 'limit.db'), schema }), ...packPlugins(), governance: {}, orchestrator: {} } },
    plugins: [spyRunnerPlugin(spyRunner())],
  });
  return {
    rt, orch: rt.resolve('orchestrator'), storage: rt.resolve('storage'),
    async cleanup() {
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
      if (backend === 'postgres') await dropSchemas([schema]);
    },
  };
}

let current: Fixture | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await current?.cleanup();
  current = undefined;
});
const setup = async (backend: Backend = 'sqlite') => (current = await fixture(backend));

interface TraceState {
  trace: Trace;
  provenance: ProvenanceEntry[];
  flags: Flag[];
  checkpoints: Checkpoint[];
}

/** What storage holds of a trace now. */
async function stored(storage: Storage, id: string): Promise<TraceState> {
  const trace = (await storage.getTrace('default', id))!;
  return { trace, provenance: await storage.listProvenance('default', id), flags: trace.flags, checkpoints: await storage.listCheckpoints('default', id) };
}

/** What a json artifact holds of a trace. */
function exported(artifact: ArtifactExport, id: string): TraceState {
  const { parts } = JSON.parse(artifact.files[0]!.content) as { parts: { traces: Trace[]; provenance: ProvenanceEntry[]; flags: Flag[]; checkpoints: Checkpoint[] } };
  const of = <T extends { traceId: string }>(list: T[]) => list.filter((r) => r.traceId === id);
  return { trace: parts.traces.find((t) => t.id === id)!, provenance: of(parts.provenance), flags: of(parts.flags), checkpoints: of(parts.checkpoints) };
}

describe.each<Backend>(['sqlite', 'postgres'])('an export is a consistent snapshot of each trace (%s)', (backend) => {
  /**
   * A manual Malicious 9 flag: one transaction adds the flag, its entry and checkpoint, and (the
   * default policy's autoQuarantine) quarantines the trace — status, entry, checkpoint.
   */
  const flagAndQuarantine = (f: Fixture, id: string) =>
    f.rt.resolve('governance').flag('default', id, { kind: 'Malicious', severity: 9, reason: 'found by hand', actor: 'alice' });

  /** Runs `write` once, around the export's first read of the chain of trace `id`: before or after it. */
  function writeDuringExport(f: Fixture, id: string, when: 'before' | 'after', write: () => Promise<unknown>) {
    const listProvenance = f.storage.listProvenance.bind(f.storage);
    let done = false;
    vi.spyOn(f.storage, 'listProvenance').mockImplementation(async (tenant, traceId) => {
      const first = traceId === id && !done;
      done ||= first;
      if (first && when === 'before') await write();
      const entries = await listProvenance(tenant, traceId);
      if (first && when === 'after') await write();
      return entries;
    });
  }

  it.each(['before', 'after'] as const)('a trace flagged and quarantined %s its chain is read is exported wholly as it is after the write, and verifies', async (when) => {
    const f = await setup(backend);
    const session = await f.orch.openSession();
    await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'print(1)' } });
    const { trace } = await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'print(2)' } });
    await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'print(3)' } });
    writeDuringExport(f, trace.id, when, () => flagAndQuarantine(f, trace.id));

    const artifact = await f.orch.exportArtifact({ sessionId: session.id, format: 'json' });
    const after = await stored(f.storage, trace.id);
    expect(after.trace.status).toBe('quarantined');
    expect(exported(artifact, trace.id)).toEqual(after);
    expect(artifact.manifest.provenance.verified).toBe(true);
    expect(f.orch.verifyArtifact(artifact.files)).toMatchObject({ ok: true, problems: [] });
  });

  it('a trace exported while its run is in flight is exported as it stands (running) and verifies', async () => {
    const f = await setup(backend);
    const session = await f.orch.openSession();
    const run = f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'SLEEP:400 done' } });
    let running: Trace | undefined;
    while (!running) {
      await new Promise((r) => setTimeout(r, 5));
      running = (await f.orch.listTraces(undefined, { sessionId: session.id })).items.find((t) => t.status === 'running');
    }
    const artifact = await f.orch.exportArtifact({ sessionId: session.id, format: 'csv' });
    await run;
    expect(artifact.manifest.traceIds).toEqual([running.id]);
    expect(artifact.manifest.provenance).toMatchObject({ verified: true, chains: [{ traceId: running.id, verified: true }] });
    expect(artifact.files.find((file) => file.path === 'traces.csv')!.content).toContain(',running,');
    expect(f.orch.verifyArtifact(artifact.files).ok).toBe(true);
  });

  it('a trace written to on every read is refused with LIMIT_CONFLICT naming it, not exported half-read', async () => {
    const f = await setup(backend);
    const session = await f.orch.openSession();
    const { trace } = await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'print(1)' } });
    const listProvenance = f.storage.listProvenance.bind(f.storage);
    vi.spyOn(f.storage, 'listProvenance').mockImplementation(async (tenant, traceId) => {
      const entries = await listProvenance(tenant, traceId);
      await f.storage.appendProvenance(tenant, { traceId, at: new Date().toISOString(), actor: 'bot', action: 'annotated' });
      return entries;
    });
    const error = await f.orch.exportArtifact({ sessionId: session.id, format: 'json' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'LIMIT_CONFLICT', details: { traceId: trace.id } });
    expect((error as Error).message).toContain(`Trace "${trace.id}" changed during each of 5 reads`);
  });
});

describe('export input', () => {
  it.each(['json', 'jsonl', 'csv'] as const)('a trace id given twice is refused (%s) with LIMIT_VALIDATION naming traceIds.<i> and the id it repeats', async (format) => {
    const f = await setup();
    const session = await f.orch.openSession();
    const a = (await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'print(1)' } })).trace.id;
    const b = (await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'print(2)' } })).trace.id;
    const error = await f.orch.exportArtifact({ traceIds: [a, b, b, a], format }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'LIMIT_VALIDATION',
      message: `Invalid export input: traceIds.2: "${b}" repeats traceIds.1; list each id once; traceIds.3: "${a}" repeats traceIds.0; list each id once`,
      details: { issues: [{ path: 'traceIds.2' }, { path: 'traceIds.3' }] },
    });
    const once = await f.orch.exportArtifact({ traceIds: [b, a], format });
    expect(once.manifest.traceIds).toEqual([a, b]);
    expect(f.orch.verifyArtifact(once.files).ok).toBe(true);
  });

  it.each(['json', 'jsonl', 'csv'] as const)('a session without traces exports its session record and nothing else, and verifies (%s)', async (format) => {
    const f = await setup();
    const session = await f.orch.openSession();
    const artifact = await f.orch.exportArtifact({ sessionId: session.id, format });
    expect(artifact.manifest).toMatchObject({ sessionIds: [session.id], traceIds: [], provenance: { verified: true, chains: [] } });
    expect(Object.fromEntries(Object.entries(artifact.manifest.parts).map(([k, v]) => [k, v.records]))).toEqual({ sessions: 1, traces: 0, provenance: 0, flags: 0, checkpoints: 0, rdSeries: 0 });
    expect(f.orch.verifyArtifact(artifact.files)).toMatchObject({ ok: true, problems: [] });
  });
});

describe('limit export', () => {
  it('names its own options (--session, --trace value N) in errors, not the API fields', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-artifact-cli-'));
    try {
      const config = path.join(dir, 'limit.config.ts');
      const plugins = { 'storage-sqlite': { path: path.join(dir, 'limit.db') }, governance: { packs: [] }, 'runner-python': {}, orchestrator: true };
      writeFileSync(config, `export default ${JSON.stringify({ dataDir: dir, logLevel: 'silent', storage: 'sqlite', plugins })};\n`);
      const cli = (...args: string[]) => runCli(['--config', config, 'export', '--format', 'json', '--out', path.join(dir, 'a.json'), ...args], { cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent' } });
      const usage = '  fix: Correct the option named in the message: limit export (--session S | --trace ID…) --format json|jsonl|csv --out F\n';
      for (const args of [[], ['--session', 's1', '--trace', 't1']]) {
        const r = await cli(...args);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`LIMIT_VALIDATION: Invalid options: --session: Give exactly one of --session or --trace\n${usage}`);
      }
      // An id that reads like a field name is quoted, and left as it is.
      const repeated = await cli('--trace', 't1', 'traceIds', 'traceIds');
      expect(repeated.stderr).toBe(`LIMIT_VALIDATION: Invalid options: --trace value 3: "traceIds" repeats --trace value 2; list each id once\n${usage}`);
      const invalid = await cli('--trace', 't1', 'a/b', '--json');
      expect(JSON.parse(invalid.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', details: { issues: [{ option: '--trace value 2' }] } });
      expect(JSON.parse(invalid.stdout).error.message).toMatch(/^Invalid options: --trace value 2: Expected an id/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('verifyArtifact on malformed artifacts', () => {
  /** A session with a clean run, a flagged one and a merge, exported in every format. */
  async function artifacts() {
    const f = await setup();
    const session = await f.orch.openSession();
    const a = (await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'print(1)' } })).trace;
    const b = (await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'print(2)' } })).trace;
    await f.orch.merge({ parentIds: [a.id, b.id], strategy: 'concat' });
    const json = await f.orch.exportArtifact({ sessionId: session.id, format: 'json' });
    const jsonl = await f.orch.exportArtifact({ sessionId: session.id, format: 'jsonl' });
    const csv = await f.orch.exportArtifact({ sessionId: session.id, format: 'csv' });
    for (const artifact of [json, jsonl, csv]) expect(f.orch.verifyArtifact(artifact.files)).toMatchObject({ ok: true, problems: [] });
    return { f, json: json.files[0]!.content, jsonl: jsonl.files[0]!.content, csv: csv.files };
  }
  const verify = (f: Fixture, content: string, file = 'artifact.json') => f.orch.verifyArtifact([{ path: file, content }]);

  it('names the manifest field, the record or the line of each shape problem (the audit\'s cases)', async () => {
    const { f, json, jsonl } = await artifacts();
    const doc = JSON.parse(json);
    const withManifest = (patch: object) => JSON.stringify({ ...doc, manifest: { ...doc.manifest, ...patch } });
    const withPart = (name: string, records: unknown[]) => JSON.stringify({ ...doc, parts: { ...doc.parts, [name]: records } });
    const lines = jsonl.split('\n');
    const withLine = (line: string) => [lines[0], line, ...lines.slice(1)].join('\n');
    const cases: [string, string, string][] = [
      ['artifact.json', withManifest({ provenance: { verified: true, chains: {} } }), 'manifest.provenance.chains: Invalid input: expected array, received object'],
      ['artifact.json', withManifest({ traceIds: 5 }), 'manifest.traceIds: Invalid input: expected array, received number'],
      ['artifact.json', withManifest({ parts: { ...doc.manifest.parts, flags: 'x' } }), 'manifest.parts.flags: Invalid input: expected object, received string'],
      ['artifact.json', JSON.stringify({ ...doc, manifest: null }), 'manifest: Invalid input: expected object, received null'],
      ['artifact.json', withPart('traces', [null, ...doc.parts.traces]), 'parts.traces[0]: Invalid input: expected object, received null'],
      ['artifact.json', withPart('provenance', [...doc.parts.provenance, null]), `parts.provenance[${doc.parts.provenance.length}]: Invalid input: expected object, received null`],
      ['artifact.json', withPart('flags', [{ id: 'x' }]), 'parts.flags[0]: traceId: Invalid input: expected string, received undefined'],
      ['artifact.json', withPart('traces', [{ ...doc.parts.traces[0], task: { input: 7 } }]), 'parts.traces[0]: task.input: Invalid input: expected string, received number'],
      ['artifact.json', JSON.stringify({ ...doc, parts: { ...doc.parts, checkpoints: {} } }), 'parts.checkpoints: expected an array of records'],
      ['artifact.json', withPart('sessions', ['\ud800']), 'parts.sessions[0]: Lone surrogates cannot be written as canonical JSON'],
      ['artifact.jsonl', withLine('{"kind":"traces"}'), 'line 2: expected {"kind": "<part>", "record": {…}}: record: missing'],
      ['artifact.jsonl', withLine('null'), 'line 2: expected {"kind": "<part>", "record": {…}}: Invalid input: expected object, received null'],
      ['artifact.jsonl', withLine('{"kind":"nope","record":{}}'), 'line 2: expected {"kind": "<part>", "record": {…}}: kind: Invalid option: expected one of "sessions"|"traces"|"provenance"|"flags"|"checkpoints"|"rdSeries"'],
      ['artifact.jsonl', withLine('{"kind":"provenance","record":{"seq":"0"}}'), 'line 2 (provenance): traceId: Invalid input: expected string, received undefined'],
      ['artifact.jsonl', withLine('{"kind":'), 'line 2: not JSON'],
    ];
    for (const [file, content, problem] of cases) {
      const result = verify(f, content, file);
      expect(result.ok, problem).toBe(false);
      expect(result.problems.some((p) => p.startsWith(problem)), `${problem}\n  got: ${result.problems.join('\n  ')}`).toBe(true);
    }
  });

  it('never throws: every value of a json or jsonl artifact or a CSV manifest replaced by another shape, or removed, is a list of problems', async () => {
    const { f, json, jsonl, csv } = await artifacts();
    const replacements: unknown[] = [null, 7, 'x', {}, [null], undefined];
    /** Every (path, replacement) of a JSON value, applied one at a time to a fresh copy. */
    function* mutations(root: unknown): Generator<unknown> {
      const paths: (string | number)[][] = [];
      const walk = (v: unknown, p: (string | number)[]) => {
        paths.push(p);
        if (Array.isArray(v)) v.slice(0, 2).forEach((x, i) => walk(x, [...p, i]));
        else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
      };
      walk(root, []);
      for (const p of paths) {
        for (const r of replacements) {
          if (p.length === 0) {
            yield r;
            continue;
          }
          const copy = structuredClone(root) as Record<string | number, unknown>;
          const parent = p.slice(0, -1).reduce<Record<string | number, unknown>>((o, k) => o[k] as Record<string | number, unknown>, copy);
          if (r === undefined) delete parent[p.at(-1)!];
          else parent[p.at(-1)!] = r;
          yield copy;
        }
      }
    }
    let checked = 0;
    for (const mutated of mutations(JSON.parse(json))) {
      const result = verify(f, JSON.stringify(mutated) ?? '');
      expect(result.ok || result.problems.length === 0).toBe(result.ok);
      checked++;
    }
    for (const mutated of mutations(JSON.parse(csv.find((x) => x.path === 'manifest.json')!.content))) {
      const result = f.orch.verifyArtifact(csv.map((x) => (x.path === 'manifest.json' ? { ...x, content: JSON.stringify(mutated) ?? '' } : x)));
      expect(result.ok || result.problems.length === 0).toBe(result.ok);
      checked++;
    }
    const lines = jsonl.trim().split('\n');
    for (let i = 0; i < lines.length; i++) {
      for (const mutated of mutations(JSON.parse(lines[i]!))) {
        const result = verify(f, lines.map((l, j) => (j === i ? JSON.stringify(mutated) ?? '' : l)).join('\n'), 'artifact.jsonl');
        expect(result.ok || result.problems.length === 0).toBe(result.ok);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('names the CSV file and record of a malformed row, and a manifest.json that is not JSON', async () => {
    const { f, csv } = await artifacts();
    const edit = (file: string, change: (text: string) => string) => csv.map((x) => (x.path === file ? { ...x, content: change(x.content) } : x));
    const cases: [{ path: string; content: string }[], string][] = [
      [edit('traces.csv', (t) => t.replace(/^id,/, 'ident,')), 'traces.csv record 1: id: Invalid input: expected string, received undefined'],
      [edit('traces.csv', (t) => t.replace(/\r\n([^,]*),([^,]*),([^,]*),ok,/, '\r\n$1,$2,$3,bogus,')), 'traces.csv record 1: status: Invalid option'],
      [edit('traces.csv', (t) => `${t}"unterminated`), 'traces.csv: unterminated quoted field'],
      [edit('provenance.csv', (t) => t.replace(/\r\n([^,]*),0,/, '\r\n$1,zero,')), 'provenance.csv record 1: seq: Invalid input: expected number, received NaN'],
      [edit('provenance.csv', (t) => t.replace('"{""', '"{{""')), 'provenance.csv record 1: data: not JSON'],
      [edit('manifest.json', () => '{'), 'manifest.json: not JSON'],
      [edit('manifest.json', (t) => t.replace('"traceIds": [', '"traceIds": 5, "x": [')), 'manifest.traceIds: Invalid input: expected array, received number'],
    ];
    for (const [files, problem] of cases) {
      const result = f.orch.verifyArtifact(files);
      expect(result.ok, problem).toBe(false);
      expect(result.problems.some((p) => p.startsWith(problem)), `${problem}\n  got: ${result.problems.join('\n  ')}`).toBe(true);
    }
  });

  it('names the CSV file whose bytes changed (rd_points.csv is the rdSeries part), for a changed byte in each file', async () => {
    const { f, csv } = await artifacts();
    for (const file of csv.filter((x) => x.path !== 'manifest.json')) {
      // One byte of the header row: the file still parses, only its digest differs.
      const files = csv.map((x) => (x === file ? { ...x, content: x.content.replace(/[a-z]/, (c) => c.toUpperCase()) } : x));
      const problems = f.orch.verifyArtifact(files).problems;
      expect(problems.some((p) => p.includes(`(${file.path}): SHA-256 `) && p.includes('does not match the manifest')), `${file.path}\n  got: ${problems.join('\n  ')}`).toBe(true);
    }
  });

  it('a .json artifact whose JSON breaks past line 1 is told by the line and column of the damage, not by its line 1 ("{")', async () => {
    const { f, json, jsonl } = await artifacts();
    const lines = json.split('\n');
    const at = lines.findIndex((l) => l.includes('"parts": {'));
    const broken = lines.map((l, i) => (i === at ? `${l},` : l)).join('\n');
    const problems = verify(f, broken).problems;
    expect(problems).toEqual([expect.stringMatching(/^not JSON: the file does not parse as one JSON document \(.+ at line \d+, column \d+\), nor is its line 1 a JSON line/)]);
    expect(problems[0]).toContain(` at line ${at + 1}, column ${lines[at]!.length + 1}), nor`);
    // A .jsonl file's line 1 is its manifest line: its damage is told as line 1's, as before.
    expect(verify(f, `${jsonl.slice(0, 20)}\n${jsonl}`, 'artifact.jsonl').problems).toEqual([expect.stringMatching(/^not JSON: line 1 does not parse \(.+\), so this is neither/)]);
  });

  it('limit verify answers LIMIT_ARTIFACT_INVALID naming the line, not a TypeError', async () => {
    const { f, jsonl } = await artifacts();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-artifact-verify-'));
    try {
      const lines = jsonl.split('\n');
      const file = path.join(dir, 'a.jsonl');
      writeFileSync(file, [lines[0], '{"kind":"traces"}', ...lines.slice(1)].join('\n'));
      const r = await runCli(['verify', file], { cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent' } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`LIMIT_ARTIFACT_INVALID: Artifact ${file} does not verify:\n  line 2: expected {"kind": "<part>", "record": {…}}: record: missing\n`);
      expect(r.stderr).not.toContain('TypeError');
      expect(f.orch.verifyArtifact([{ path: 'a.jsonl', content: jsonl }]).ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CSV export', () => {
  it('keeps the whole task: taskKind, taskInput and taskDetails (every other field, as JSON) give it back', async () => {
    const f = await setup();
    const session = await f.orch.openSession();
    const full = {
      input: 'summarise the tool output', kind: 'prompt' as const, language: 'python', args: ['--fast'], env: { MODE: 'x' }, files: { 'a.txt': 'data' },
      toolOutputs: [{ name: 'shell', content: 'tool said, "hi"\n=1+1' }],
    };
    const rich = (await f.orch.run({ sessionId: session.id, runner: 'spy', task: full })).trace;
    const plain = (await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'print(1)' } })).trace;
    const artifact = await f.orch.exportArtifact({ sessionId: session.id, format: 'csv' });
    const rows = new Map(parseCsvObjects(artifact.files.find((x) => x.path === 'traces.csv')!.content).map((r) => [r.id, r]));
    const task = (id: string) => {
      const r = rows.get(id)!;
      return { input: r.taskInput, kind: r.taskKind, ...(r.taskDetails === null ? {} : JSON.parse(r.taskDetails!)) };
    };
    expect(task(rich.id)).toEqual((await f.storage.getTrace('default', rich.id))!.task);
    expect(task(rich.id)).toEqual(full);
    expect(rows.get(plain.id)!.taskDetails).toBeNull();
    expect(task(plain.id)).toEqual({ input: 'print(1)', kind: 'code' });
    expect(f.orch.verifyArtifact(artifact.files).ok).toBe(true);
  });
});

describe('text that is not well-formed Unicode', () => {
  it('is exported with U+FFFD in place of a lone surrogate, listed in manifest.mended, and the artifact verifies (json, jsonl, csv)', async () => {
    const f = await setup();
    const session = await f.orch.openSession();
    // The orchestrator refuses such text from callers; SQLite stores what JavaScript strings hold, so
    // another client of the store (or an older version) may have written it: here, through storage.
    // A lone surrogate hashes as U+FFFD's UTF-8 bytes, so the chains recorded for the whole text still bind it.
    // (The metadata a chain binds is canonical JSON, which holds no such text: a key is mended here in a checkpoint's details, which no chain binds.)
    const run = (await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input: 'x' } })).trace;
    await f.storage.addCheckpoint('default', { traceId: run.id, label: 'note', passed: true, details: { 'n\udc00te': 'x' }, at: new Date().toISOString() });
    const recorded = (await f.orch.recordTrace({ sessionId: session.id, runner: 'ext', task: { input: 'x' }, output: { ok: true, stdout: 'half \ufffd pair', stderr: '' } })).trace;
    await f.storage.updateTrace('default', recorded.id, { output: { ...recorded.output!, stdout: 'half \udc00 pair' } });
    expect((await f.storage.getTrace('default', recorded.id))!.output!.stdout).toBe('half \udc00 pair');
    for (const format of ['json', 'jsonl', 'csv'] as const) {
      const artifact = await f.orch.exportArtifact({ sessionId: session.id, format });
      expect(artifact.manifest.mended).toEqual([
        { part: 'traces', index: 1, id: recorded.id, field: 'output.stdout' },
        { part: 'checkpoints', index: expect.any(Number), id: run.id, field: 'details.n\ufffdte' },
      ]);
      expect(artifact.manifest.provenance.verified).toBe(true);
      const text = artifact.files.map((x) => x.content).join('');
      expect(text).toContain('n\ufffdte');
      expect(text).toContain('half \ufffd pair');
      expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      expect(f.orch.verifyArtifact(artifact.files)).toMatchObject({ ok: true, problems: [] });
    }
    // A session without such text has no `mended` at all.
    const clean = await f.orch.openSession();
    await f.orch.run({ sessionId: clean.id, runner: 'spy', task: { input: 'café 😀' } });
    expect((await f.orch.exportArtifact({ sessionId: clean.id, format: 'json' })).manifest).not.toHaveProperty('mended');
  });
});

describe('an export too large to build', () => {
  /** A session's records as exportArtifact hands them to buildArtifact. */
  async function sessionData(): Promise<{ f: Fixture; data: ArtifactData; createdAt: string }> {
    const f = await setup();
    const session = await f.orch.openSession();
    for (const input of ['print(1)', 'print("a, \\"quoted\\" line\\nand another")', 'x = {"nested": [1, {"deep": null}]}']) {
      await f.orch.run({ sessionId: session.id, runner: 'spy', task: { input, args: ['--a'] }, metadata: { tags: ['t'], n: { m: 1.5 } } });
    }
    const art = await f.orch.exportArtifact({ sessionId: session.id, format: 'json' });
    const { parts } = JSON.parse(art.files[0]!.content) as { parts: Omit<ArtifactData, 'tenant' | 'sessionIds' | 'traceIds'> };
    return { f, data: { ...parts, tenant: 'default', sessionIds: [session.id], traceIds: art.manifest.traceIds }, createdAt: art.manifest.createdAt };
  }

  it('is refused with LIMIT_PAYLOAD_TOO_LARGE giving its size, the limit and how to export it in parts; at the limit it is built (json, jsonl, csv)', async () => {
    const { f, data, createdAt } = await sessionData();
    expect(MAX_ARTIFACT_CHARS).toBe(128 * 1024 * 1024);
    for (const format of ['json', 'jsonl', 'csv'] as const) {
      const built = buildArtifact(data, format, createdAt);
      const chars = built.files.reduce((n, x) => n + x.content.length, 0);
      expect(buildArtifact(data, format, createdAt, chars)).toEqual(built);
      const error = (() => {
        try {
          buildArtifact(data, format, createdAt, chars - 1);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toMatchObject({
        code: 'LIMIT_PAYLOAD_TOO_LARGE',
        message: `The ${format} artifact of 3 traces would be ${chars.toLocaleString('en-US')} characters; an export holds at most ${(chars - 1).toLocaleString('en-US')}`,
        details: { format, chars, maxChars: chars - 1, traces: 3, sessionIds: data.sessionIds },
        fix: expect.stringContaining('Export the traces in parts of about 2 or fewer: exportArtifact({ traceIds }), `limit export --trace ID…`'),
      });
      expect(f.orch.verifyArtifact(built.files).ok).toBe(true);
    }
  });

  it('suggests parts of no more traces than one POST /artifacts/export takes (MAX_EXPORT_TRACE_IDS), however small each trace is', () => {
    // 25,000 small traces just over the limit: parts of about 24,000 would be refused over HTTP (400).
    const trace = makeTrace('default', 't', 's', Date.parse('2024-05-01T00:00:00Z'), { task: { input: 'x', kind: 'external' } });
    const budget = new ArtifactBudget('json', 24_000 * textChars(trace));
    const error = (() => {
      try {
        for (let i = 0; i < 25_000; i++) budget.addTrace(trace);
      } catch (e) {
        return e as LimitError;
      }
    })();
    expect(MAX_EXPORT_TRACE_IDS).toBe(10_000);
    expect(error).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { traces: 24_001 }, fix: expect.stringContaining('Export the traces in parts of about 10,000 or fewer') });
  });

  it('is refused as soon as the records read hold more text than the limit, before the rest is read (session or trace ids, every format)', async () => {
    const f = await setup();
    const session = await f.orch.openSession();
    // 20 traces of 100,000 characters under a limit of 450,000: the fifth trace read is over it.
    const input = 'y'.repeat(100_000);
    const ids = Array.from({ length: 20 }, (_, i) => `big-${String(i).padStart(2, '0')}`);
    for (const [i, id] of ids.entries()) await f.storage.createTrace(makeTrace('default', id, session.id, Date.parse('2024-05-01T00:00:00Z') + i, { task: { input, kind: 'external' } }));
    const listed = vi.spyOn(f.storage, 'listTraces');
    const read = vi.spyOn(f.storage, 'getTrace');
    for (const format of ['json', 'jsonl', 'csv'] as const) {
      for (const request of [{ sessionId: session.id }, { traceIds: ids }]) {
        listed.mockClear();
        read.mockClear();
        const error = await f.orch.exportArtifact({ ...request, format, maxChars: 450_000 }).then(() => null, (e: unknown) => e as LimitError);
        expect(error).toMatchObject({
          code: 'LIMIT_PAYLOAD_TOO_LARGE',
          message: expect.stringMatching(new RegExp(`^The ${format} artifact would be more than 450,000 characters: the 5 traces read so far hold 5\\d\\d,\\d{3} characters of text; an export holds at most 450,000$`)),
          // The field that chose the traces, which the HTTP API answers as body.sessionId / body.traceIds.
          details: { format, maxChars: 450_000, traces: 5, sessionIds: [session.id], soFar: true, field: 'sessionId' in request ? 'sessionId' : 'traceIds' },
          fix: expect.stringContaining('Export the traces in parts of about 4 or fewer'),
        });
        // A session is refused while its traces are listed: pages no larger than the limit, none read whole.
        const listedTraces = (await Promise.all(listed.mock.results.map((r) => r.value as ReturnType<Storage['listTraces']>))).flatMap((p) => p.items);
        expect(listedTraces.length).toBeLessThan(10);
        expect(read.mock.calls.length).toBe('sessionId' in request ? 0 : 5);
      }
    }
    // Within the limit it is built.
    const fits = await f.orch.exportArtifact({ traceIds: ids.slice(0, 3), format: 'jsonl', maxChars: 450_000 });
    expect(fits.manifest.traceIds).toEqual(ids.slice(0, 3));
    await expect(f.orch.exportArtifact({ sessionId: session.id, format: 'json', maxChars: MAX_ARTIFACT_CHARS + 1 })).rejects.toMatchObject({ code: 'LIMIT_VALIDATION' });
  });

  it('a single trace too large on its own is not told to export "in parts of about 1": it is named, with what can help (every format, read or built)', async () => {
    const f = await setup();
    const session = await f.orch.openSession();
    const input = 'y'.repeat(100_000);
    await f.storage.createTrace(makeTrace('default', 'huge', session.id, Date.parse('2024-05-01T00:00:00Z'), { task: { input, kind: 'external' } }));
    for (const format of ['json', 'jsonl', 'csv'] as const) {
      // Refused while read (its text alone is over the limit) …
      const read = await f.orch.exportArtifact({ traceIds: ['huge'], format, maxChars: 50_000 }).then(() => null, (e: unknown) => e as LimitError);
      // … and when built (its text fits, the file does not).
      const built = await f.orch.exportArtifact({ traceIds: ['huge'], format });
      const chars = built.files.reduce((n, x) => n + x.content.length, 0);
      const whole = await f.orch.exportArtifact({ traceIds: ['huge'], format, maxChars: chars - 1 }).then(() => null, (e: unknown) => e as LimitError);
      for (const error of [read, whole]) {
        expect(error).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { traces: 1, traceId: 'huge' } });
        expect(error!.fix).toContain('Trace "huge" alone is more than an export holds, so exporting it in parts cannot help');
        expect(error!.fix).toContain('GET /traces/:id/provenance');
        expect(error!.fix).not.toContain('parts of about');
        if (format === 'jsonl') expect(error!.fix).not.toContain('export it as jsonl');
        else expect(error!.fix).toContain('export it as jsonl (format "jsonl"');
      }
    }
    // Several traces each nearly the limit: one at a time, not "parts of about 1".
    await f.storage.createTrace(makeTrace('default', 'huge2', session.id, Date.parse('2024-05-01T00:00:01Z'), { task: { input, kind: 'external' } }));
    const two = await f.orch.exportArtifact({ traceIds: ['huge', 'huge2'], format: 'jsonl', maxChars: 150_000 }).then(() => null, (e: unknown) => e as LimitError);
    expect(two).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { traces: 2 } });
    expect(two!.fix).toContain('Export the traces one at a time');
    expect(two!.details).not.toHaveProperty('traceId');
  });

  it('artifact.json is still exactly JSON.stringify({ manifest, parts }, null, 2), built a record at a time', async () => {
    const { data, createdAt } = await sessionData();
    const [file] = buildArtifact(data, 'json', createdAt).files;
    expect(file!.content).toBe(`${JSON.stringify(JSON.parse(file!.content), null, 2)}\n`);
    expect(Object.values(JSON.parse(file!.content).parts).some((p) => (p as unknown[]).length === 0)).toBe(true); // an empty part (rdSeries) too
  });
});

describe('the same records on SQLite and PostgreSQL', () => {
  it('export with the same part digests in every format, whatever key order each backend reads objects back in', async () => {
    // PostgreSQL's jsonb keeps no key order (shorter keys first), SQLite keeps the order written.
    // Before: the CSV digests (the files' exact bytes, JSON cells written with JSON.stringify) differed.
    const digests: Record<string, Record<string, string>> = {};
    for (const backend of ['sqlite', 'postgres'] as const) {
      const f = await setup(backend);
      const at = '2024-05-01T00:00:00.000Z';
      await f.storage.createSession({ id: 's1', tenant: 'default', name: 'keys', status: 'open', createdAt: at, limits: { timeoutMs: 1000, maxConcurrency: 1, allowNetwork: false, memoryMb: 64 }, metadata: { zeta: 1, alpha: { yy: 2, b: 3 } } });
      await f.storage.createTrace(makeTrace('default', 't1', 's1', Date.parse(at), {
        task: { input: 'print(1)', kind: 'code', language: 'python', env: { ZZZ: '1', A: '2' } },
        metadata: { zeta: 1, alpha: [{ yy: 2, b: 3 }] },
        output: { ok: true, stdout: '1\n', stderr: '', value: { longer: 1, k: 2 } },
      }));
      await f.storage.appendProvenance('default', { traceId: 't1', at, actor: 'test', action: 'created', data: { zeta: 1, alpha: 2 } });
      await f.storage.addFlag('default', { id: 'f1', traceId: 't1', kind: 'Anomaly', severity: 5, reason: 'r', ruleId: 'x.rule', evidence: [{ field: 'task.input', start: 0, end: 5, excerpt: 'print' }], autoDetected: true, at });
      await f.storage.addCheckpoint('default', { traceId: 't1', label: 'c', passed: true, at, details: { zeta: 1, alpha: 2 } });
      await f.storage.createRdSeries({ id: 'r1', tenant: 'default', sessionId: 's1', name: 'rd', createdAt: at, metadata: { zeta: 1, alpha: 2 }, points: [{ step: 0, rate: 1, distortion: 0.5, meta: { zeta: 1, alpha: 2 } }] });
      for (const format of ['json', 'jsonl', 'csv'] as const) {
        const artifact = await f.orch.exportArtifact({ sessionId: 's1', format });
        expect(f.orch.verifyArtifact(artifact.files).ok).toBe(true);
        for (const [part, { sha256 }] of Object.entries(artifact.manifest.parts)) (digests[`${format} ${part}`] ??= {})[backend] = sha256;
      }
      await current!.cleanup();
      current = undefined;
    }
    // Every part of every format was exported by both backends (a part one of them lacks would compare undefined with undefined).
    const parts = Object.keys(digests);
    for (const format of ['json', 'jsonl', 'csv']) expect(parts.filter((p) => p.startsWith(`${format} `)).length, format).toBeGreaterThan(0);
    for (const [part, byBackend] of Object.entries(digests)) {
      expect(Object.keys(byBackend).sort(), part).toEqual(['postgres', 'sqlite']);
      expect(byBackend.sqlite, part).toMatch(/^[0-9a-f]{64}$/);
      expect(byBackend.postgres, part).toBe(byBackend.sqlite);
    }
  });
});

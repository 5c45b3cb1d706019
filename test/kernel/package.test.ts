/**
 * The package as a dependency: `npm pack` (its prepack build included) must produce a tarball that
 * works when installed in someone else's project — `import('limit-graph')`, `limit-graph/testing`,
 * `limit-graph/plugins/<name>`, the `limit` bin and the published types, all from dist/ with no
 * TypeScript sources beside them.
 *
 * The pack runs in a copy of this working tree (its own dist/, so a run never rewrites the shared
 * checkout's dist/). The install is the tarball extracted into a fresh project's
 * node_modules/limit-graph, as npm would, with each dependency and peer dependency that the packed
 * package.json declares linked from this checkout's node_modules: `npm install --offline <tarball>`
 * cannot work here, because the lockfile records no `resolved` URLs and the npm cache holds
 * tarballs but no registry metadata (ENOTCACHED). Only declared packages are linked, so a runtime
 * import of an undeclared (e.g. dev-only) package still fails, and the project lies outside this
 * checkout, so nothing resolves from its node_modules by accident.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Not copied into the packing copy: installs, build output, local data. */
const NOT_COPIED = /^(node_modules|\.git|dist|\.limit|\.prof|coverage|test\/\.tmp)(\/|$)/;

interface PackedManifest {
  version: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
  dependencies: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

let work: string;
let files: string[];
let app: string;
let installed: string;
let manifest: PackedManifest;
/** The built-in plugins: one folder each under plugins/. */
const builtins = readdirSync(path.join(root, 'plugins'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

// Children get no vitest or npm-lifecycle state of this run.
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VITEST|npm_)/i.test(k) && k !== 'NODE_OPTIONS'));

function run(command: string, args: string[], cwd: string, timeout = 60_000): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  // Quoted line by line: vitest would take the child's stack lines for this error's own frames.
  const quote = (text: string) => text.trimEnd().replace(/^/gm, '| ');
  if (r.status !== 0) throw new Error(`${what} exited ${r.status ?? r.signal}:\n${quote(r.stdout)}\n${quote(r.stderr)}`);
  return r.stdout;
}

function link(name: string): void {
  const target = path.join(root, 'node_modules', name);
  const at = path.join(app, 'node_modules', name);
  mkdirSync(path.dirname(at), { recursive: true });
  symlinkSync(target, at, 'dir');
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'limit-pack-'));
  const copy = path.join(work, 'source');
  cpSync(root, copy, { recursive: true, filter: (src) => !NOT_COPIED.test(path.relative(root, src).split(path.sep).join('/')) });
  symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'), 'dir');

  const packed = ok(run('npm', ['pack', '--json', '--pack-destination', work], copy, 180_000), 'npm pack');
  const [info] = JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  files = info!.files.map((f) => f.path).sort();

  app = path.join(work, 'app');
  installed = path.join(app, 'node_modules', 'limit-graph');
  mkdirSync(installed, { recursive: true });
  writeFileSync(path.join(app, 'package.json'), '{ "name": "consumer", "private": true, "type": "module" }\n');
  ok(run('tar', ['-xzf', path.join(work, info!.filename), '-C', installed, '--strip-components=1'], app), 'tar');
  manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as PackedManifest;
  for (const name of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies ?? {})]) link(name);
  link('@types/node'); // the consumer's own, for its type check
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A strict NodeNext tsconfig of a consumer project that type-checks one file. */
const consumerTsconfig = (file: string): string =>
  JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, files: [file] });

describe('npm pack', () => {
  it('ships the build, the bin, docs/ and the plugin READMEs, and no sources, tests or source maps', () => {
    // A pattern export (`./plugins/*`) stands for each built-in plugin.
    const targets = Object.values(manifest.exports)
      .flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)))
      .flatMap((t) => (t.includes('*') ? builtins.map((name) => t.replaceAll('*', name)) : [t]));
    for (const target of [...targets, ...Object.values(manifest.bin)]) expect(files).toContain(path.posix.normalize(target));
    expect(builtins.length).toBeGreaterThan(10);
    for (const name of builtins) expect(files).toContain(`dist/plugins/${name}/index.js`);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/presets/default.js', 'dist/test/conformance/storage-child.js', 'dist/plugins/rd-fgw/worker.js', 'dist/plugins/governance-rules-classifier/model.json', 'plugins/storage-sqlite/README.md']));
    // README.md and the plugin READMEs link to docs/.
    expect(files).toEqual(expect.arrayContaining(['docs/api.md', 'docs/governance.md', 'docs/rd.md', 'docs/storage.md']));
    const unwanted = files.filter((f) =>
      /\.map$|\.test\.|(^|\/)fixtures\//.test(f) ||
      /^(kernel|test|presets|bench|examples|node_modules)\//.test(f) ||
      (f.startsWith('plugins/') && !f.endsWith('/README.md')) ||
      (f.startsWith('dist/test/') && !f.startsWith('dist/test/conformance/')),
    );
    expect(unwanted).toEqual([]);
  });
});

// Each test runs node or tsc on the installed package (≈ 20 s alone): room for a machine busy with other test files.
describe('the packed package, installed in a fresh project', { timeout: 120_000 }, () => {
  it("import('limit-graph') runs the default preset from dist and records a verified trace; limit-graph/testing works", () => {
    writeFileSync(
      path.join(app, 'check.mjs'),
      `import { createRuntime, definePlugin, packageVersion } from 'limit-graph';
const dataDir = process.argv[2];
// A runner of the application's own, so that no Python is needed.
const echo = definePlugin({
  meta: { name: 'runner-echo', version: '1.0.0', provides: ['runner:echo'] },
  setup(ctx) {
    ctx.provide('runner:echo', {
      name: 'echo',
      capabilities: { timeout: true, memoryLimit: true, networkIsolation: true, envControl: true, concurrencyLimit: true },
      async executeIsolated(task) { return { ok: true, stdout: 'echo: ' + task.input, stderr: '', metrics: { latencyMs: 1 } }; },
      async health() { return { status: 'ok', checks: [] }; },
    });
  },
});
const config = { extends: 'default', dataDir, logLevel: 'silent', plugins: { 'runner-python': false } };
let runtime = await createRuntime({ config, plugins: [echo], env: {} });
const plugins = runtime.plugins.map((p) => p.name);
const orchestrator = runtime.resolve('orchestrator');
const session = await orchestrator.openSession({ name: 'packaged' });
const { trace } = await orchestrator.run({ sessionId: session.id, runner: 'echo', task: { input: 'hello from the tarball' } });
// rd-fgw's worker thread starts from dist/ (worker.js): the same result and errors as on this thread.
const fgw = runtime.resolve('rd:fgw');
const path3 = (f) => ({ nodes: f.map((x, i) => ({ id: 'n' + i, features: [x] })), edges: f.slice(1).map((_, i) => ({ source: 'n' + i, target: 'n' + (i + 1) })) });
const threaded = await fgw.distortionAsync(path3([0, 1, 2]), path3([0, 1, 3]));
const fgwThread = JSON.stringify(threaded) === JSON.stringify(fgw.distortion(path3([0, 1, 2]), path3([0, 1, 3])));
const fgwError = await fgw.distortionAsync(path3([0]), { nodes: [], edges: [] }).catch((e) => e.name + ' ' + e.code);
await runtime.close();
// Reopened: the trace was stored in SQLite, not kept in memory.
runtime = await createRuntime({ config, plugins: [echo], env: {} });
const detail = await runtime.resolve('orchestrator').inspectTrace(undefined, trace.id);
await runtime.close();
const testing = await import('limit-graph/testing');
// Child processes started from the installed copy (dist/test/conformance/storage-child.js).
const multi = await testing.multiProcessProvenance({ plugin: 'storage-sqlite', options: { path: dataDir + '/multi.db' } }, { processes: 2, appendsEach: 5 });
console.log(JSON.stringify({
  version: packageVersion(), plugins, status: trace.status, stdout: detail.trace.output?.stdout, fgwThread, fgwError,
  provenance: detail.provenance.map((e) => e.action), verified: detail.verification.verified,
  testing: Object.fromEntries(Object.entries(testing).map(([k, v]) => [k, typeof v])),
  multi: { entries: multi.seqs.length, verified: multi.verification.verified },
}));
`,
    );
    const dataDir = path.join(work, 'data');
    mkdirSync(dataDir);
    const out = ok(run(process.execPath, ['check.mjs', dataDir], app), 'check.mjs');
    const result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(result).toMatchObject({
      version: manifest.version,
      status: 'ok',
      stdout: 'echo: hello from the tarball',
      provenance: ['created', 'executed', 'completed'],
      verified: true,
      multi: { entries: 10, verified: true },
      fgwThread: true,
      fgwError: 'LimitError LIMIT_RD_INVALID_INPUT',
    });
    expect(result.plugins).toEqual(expect.arrayContaining(['storage-sqlite', 'governance', 'orchestrator', 'api-http', 'runner-echo']));
    for (const fn of ['storageConformance', 'runnerConformance', 'multiProcessProvenance', 'crashTest', 'makeTrace']) {
      expect((result.testing as Record<string, string>)[fn], fn).toBe('function');
    }
  });

  it('the limit bin prints its version and help', () => {
    const bin = path.join(installed, manifest.bin.limit!);
    expect(readFileSync(bin, 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    const version = run(process.execPath, [bin, '--version'], app);
    expect(ok(version, 'limit --version').trim()).toBe(manifest.version);
    const help = ok(run(process.execPath, [bin, '--help'], app), 'limit --help');
    expect(help).toMatch(/^Usage: limit /);
    // serve comes from the api-http plugin: built-in plugins load from dist/.
    expect(help).toMatch(/\n {2}serve\b/);
    expect(help).toMatch(/\n {2}doctor\b/);
    // The benchmarks stay in the repository: the installed package does not offer `bench`.
    expect(help).not.toMatch(/\n {2}bench\b/);
    const benchHelp = ok(run(process.execPath, [bin, 'bench', '--help'], app), 'limit bench --help');
    expect(benchHelp).toContain('benchmark names, e.g. storage rd api');
    expect(benchHelp).not.toContain('()');
  });

  it('limit bench says that the installed package has no benchmarks and exits 1, named or not', () => {
    const bin = path.join(installed, manifest.bin.limit!);
    // With a benchmark's options too: not "unknown option '--rounds'" (no benchmark declares options here).
    for (const args of [['bench'], ['bench', 'storage'], ['bench', '--json'], ['bench', 'storage', '--rounds', '2'], ['bench', '--scale=0.1', 'rd', '--json'], ['bench', '--config', 'x.ts']]) {
      const r = run(process.execPath, [bin, ...args], app);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('LIMIT_NOT_FOUND: No benchmarks to run: they are the files of bench/ in a checkout of the repository, and this installation has none');
      expect(r.stderr).toContain('fix: Run them from a checkout of the limit-graph repository');
      expect(r.stdout).toEqual(args.includes('--json') ? expect.stringContaining('"LIMIT_NOT_FOUND"') : '');
    }
  });

  it('its types resolve for a TypeScript consumer (NodeNext)', () => {
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      consumerTsconfig('consumer.ts'),
    );
    writeFileSync(
      path.join(app, 'consumer.ts'),
      `import { createRuntime, type Runtime, type Storage } from 'limit-graph';
import { storageConformance, type StorageFactory } from 'limit-graph/testing';
const runtime: Runtime = await createRuntime({ config: { storage: 'sqlite' } });
const storage: Storage = runtime.resolve('storage');
const factory: StorageFactory = async () => ({ storage });
storageConformance('mine', factory);
// @ts-expect-error -- fails to compile only if the types resolved (were they any, this line would pass)
const wrong: number = runtime.plugins;
export { wrong };
`,
    );
    ok(run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], app), 'tsc (consumer)');
  });

  it("defineConfig types the built-in plugins' options for a consumer that imports only limit-graph, and takes a function", () => {
    writeFileSync(path.join(app, 'tsconfig.config.json'), consumerTsconfig('limit.config.ts'));
    writeFileSync(
      path.join(app, 'limit.config.ts'),
      `import { defineConfig } from 'limit-graph';
// Each line below fails to compile only if the built-in plugins' entries are typed (untyped, they would pass).
// @ts-expect-error -- path is a string
defineConfig({ plugins: { 'storage-sqlite': { path: 42 } } });
// @ts-expect-error -- a misspelt option of a built-in plugin
defineConfig({ plugins: { 'storage-sqlite': { busyTimeotMs: 5 } } });
// @ts-expect-error -- a port is a number, or decimal text as PORT gives it
defineConfig({ plugins: { 'api-http': { port: true } } });
// A function (async or not) is a config too, as the loader reads it.
export const sync = defineConfig(() => ({ storage: 'sqlite', plugins: { 'api-http': { port: 8787 } } }));
export default defineConfig(async () => ({ extends: 'default', plugins: { 'api-http': { port: '8080' }, governance: { policy: { requireDistinctReviewer: true } } } }));
`,
    );
    ok(run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.config.json'], app), 'tsc (config consumer)');
  });

  it("each built-in plugin's module is limit-graph/plugins/<name>, and the plugin APIs its README shows run", () => {
    writeFileSync(
      path.join(app, 'plugins.mjs'),
      `import { createRuntime, definePlugin } from 'limit-graph';
const [names, dataDir] = [JSON.parse(process.argv[2]), process.argv[3]];
const defaults = {};
for (const name of names) defaults[name] = typeof (await import('limit-graph/plugins/' + name)).default;
const { GovernanceEngine } = await import('limit-graph/plugins/governance');
const { computeFgw, createFgwService, FgwPool, fgwExact, fgwEntropic, emd, problemFromGraphs } = await import('limit-graph/plugins/rd-fgw');
const { OpenAIRunner } = await import('limit-graph/plugins/runner-openai');
const { AnthropicRunner } = await import('limit-graph/plugins/runner-anthropic');
const { LlamaRunner } = await import('limit-graph/plugins/runner-llama');
const named = { GovernanceEngine, computeFgw, createFgwService, FgwPool, fgwExact, fgwEntropic, emd, problemFromGraphs, OpenAIRunner, AnthropicRunner, LlamaRunner };
// api-http's embedded example, and the knee and FGW calls of their READMEs (a runner of its own: no Python needed).
const echo = definePlugin({
  meta: { name: 'runner-echo', version: '1.0.0', provides: ['runner:echo'] },
  setup(ctx) {
    ctx.provide('runner:echo', {
      name: 'echo',
      capabilities: { timeout: true, memoryLimit: true, networkIsolation: true, envControl: true, concurrencyLimit: true },
      async executeIsolated(task) { return { ok: true, stdout: task.input, stderr: '', metrics: { latencyMs: 1 } }; },
      async health() { return { status: 'ok', checks: [] }; },
    });
  },
});
const rt = await createRuntime({ config: { extends: 'default', dataDir, logLevel: 'silent', plugins: { 'runner-python': false, 'api-http': { listen: true, port: 0, auth: { mode: 'none' } } } }, plugins: [echo], env: {} });
const http = rt.resolve('http');
const health = (await fetch(http.url + '/health')).status;
const knee = rt.resolve('knee:menger').detectCurve({ x: [1, 2, 3, 4], y: [10, 6, 2, 1.8] }).index;
const fgw = rt.resolve('rd:fgw').compute({ M: [[0, 1], [1, 0]], C1: [[0, 1], [1, 0]], C2: [[0, 1], [1, 0]] }, { alpha: 0.25 }).value;
await http.close();
await rt.close();
console.log(JSON.stringify({ defaults, named: Object.fromEntries(Object.entries(named).map(([k, v]) => [k, typeof v])), health, knee, fgw }));
`,
    );
    const dataDir = path.join(work, 'plugins-data');
    mkdirSync(dataDir);
    const out = ok(run(process.execPath, ['plugins.mjs', JSON.stringify(builtins), dataDir], app), 'plugins.mjs');
    const result = JSON.parse(out.trim().split('\n').pop()!) as { defaults: Record<string, string>; named: Record<string, string>; health: number; knee: number; fgw: number };
    // The default export is the plugin, or the factory that makes it.
    expect(Object.keys(result.defaults).sort()).toEqual([...builtins].sort());
    for (const [name, type] of Object.entries(result.defaults)) expect(['object', 'function'], name).toContain(type);
    expect(Object.values(result.named).every((t) => t === 'function'), JSON.stringify(result.named)).toBe(true);
    expect(result).toMatchObject({ health: 200, knee: 2, fgw: 0 });
  });

  it("the plugin APIs the READMEs show type-check in a consumer that imports limit-graph/plugins/<name>", () => {
    writeFileSync(
      path.join(app, 'tsconfig.plugins.json'),
      consumerTsconfig('plugins-consumer.ts'),
    );
    writeFileSync(
      path.join(app, 'plugins-consumer.ts'),
      `import { createRuntime } from 'limit-graph';
import type { HttpServer } from 'limit-graph/plugins/api-http';
import type { MengerService } from 'limit-graph/plugins/knee-menger';
import type { KneedleService } from 'limit-graph/plugins/knee-kneedle';
import { computeFgw, createFgwService, FgwPool, fgwExact, fgwEntropic, emd, problemFromGraphs, RdFgwOptions, type FgwService } from 'limit-graph/plugins/rd-fgw';
import { GovernanceEngine } from 'limit-graph/plugins/governance';
import type { OpenAIRunner } from 'limit-graph/plugins/runner-openai';
import type { AnthropicRunner } from 'limit-graph/plugins/runner-anthropic';
import type { LlamaRunner } from 'limit-graph/plugins/runner-llama';

const rt = await createRuntime({ config: { extends: 'default' } });
const http: HttpServer = rt.resolve('http');
const url: string | undefined = rt.resolve('http').url;
const menger: MengerService = rt.resolve('knee:menger');
menger.detectCurve({ x: [1, 2, 3], y: [3, 2, 1] }, { normalize: true });
const kneedle: KneedleService = rt.resolve('knee:kneedle');
kneedle.detectCurve({ x: [1, 2, 3], y: [3, 2, 1] }, { curve: 'concave', direction: 'increasing' });
const fgw: FgwService = rt.resolve('rd:fgw');
const full = rt.resolve('rd:fgw').compute({ M: [[0]], C1: [[0]], C2: [[0]] }, { alpha: 0.25 });
const graph = { nodes: [{ id: 'a', features: [0] }], edges: [] };
const threaded = await fgw.distortionAsync(graph, graph, { method: 'entropic', epsilon: 0.05 });
const pool = new FgwPool(1, 8);
const service: FgwService = createFgwService(RdFgwOptions.parse({}), pool);
declare const preset: ConstructorParameters<typeof GovernanceEngine>[0]['preset'];
const engine = new GovernanceEngine({ rules: [], preset, ruleBudgetMs: 50, maxScanChars: 262_144, minSeverity: 1 });
const histories = [rt.resolve('runner:openai') as OpenAIRunner, rt.resolve('runner:anthropic') as AnthropicRunner, rt.resolve('runner:llama') as LlamaRunner].map((r) => r.history('s1'));
export { http, url, full, threaded, service, engine, histories, computeFgw, fgwExact, fgwEntropic, emd, problemFromGraphs };
`,
    );
    ok(run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.plugins.json'], app), 'tsc (plugins consumer)');
  });
});

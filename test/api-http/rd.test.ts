/**
 * Rate–distortion endpoints against the real RD plugins (rd-fgw, knee-kneedle, knee-menger).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// ajv comes with Fastify (@fastify/ajv-compiler); draft 2020-12, as OpenAPI 3.1 uses.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { KEYS, snapshot, startServer, type Server } from './harness.ts';

const path3 = (f: number[]) => ({
  nodes: f.map((x, i) => ({ id: `n${i}`, features: [x] })),
  edges: f.slice(1).map((_, i) => ({ source: `n${i}`, target: `n${i + 1}` })),
});
/** A curve with an obvious elbow at rate 3. */
const ELBOW = [
  { rate: 1, distortion: 10 }, { rate: 2, distortion: 6 }, { rate: 3, distortion: 2 },
  { rate: 4, distortion: 1.8 }, { rate: 5, distortion: 1.6 }, { rate: 6, distortion: 1.5 }, { rate: 7, distortion: 1.45 },
];

describe('api-http rate–distortion', () => {
  let s: Server;
  let sessionId: string;
  beforeAll(async () => {
    s = await startServer({ plugins: { 'rd-fgw': true, 'knee-kneedle': true, 'knee-menger': true } });
    sessionId = (await s.req('POST', '/sessions', { body: { name: 'rd' } })).json.id;
  });
  afterAll(async () => {
    await s?.close();
  });

  it("docs/api.md's /rd/distortion and /rd/knee examples answer what the document shows", async () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/api.md', import.meta.url)), 'utf8');
    for (const route of ['/rd/distortion', '/rd/knee']) {
      // `curl … -X POST $API<route> -d '<body>'` (the body may span lines), then `# <response>`.
      const m = new RegExp(`-X POST \\$API${route} -d '([^']*)'\n# (\\{.*\\})\n`).exec(doc);
      expect(m, route).not.toBeNull();
      const res = await s.req('POST', route, { body: JSON.parse(m![1]!) });
      expect(res.status, res.text).toBe(200);
      // `[…]` in the document elides a list.
      const shown = JSON.parse(m![2]!.replaceAll('[…]', '"…"')) as Record<string, unknown>;
      const answer = Object.fromEntries(Object.entries(res.json as Record<string, unknown>).map(([k, v]) => [k, shown[k] === '…' ? '…' : v]));
      expect(answer, route).toEqual(shown);
    }
    // A step's answer: its point and the series' totals (`"…"` stands for the generated series id).
    const m = /-X POST \$API\/rd\/series\/\$SERIES\/points -d '([^']*)'\n# (\{.*\})\n/.exec(doc);
    expect(m).not.toBeNull();
    const series = (await s.req('POST', '/rd/series', { body: { sessionId, name: 'doc' } })).json.id as string;
    const res = await s.req('POST', `/rd/series/${series}/points`, { body: JSON.parse(m![1]!) });
    expect(res.status, res.text).toBe(201);
    expect({ ...res.json, seriesId: '…' }).toEqual(JSON.parse(m![2]!));
  });

  it('a node weight of 0 is accepted as rd-fgw accepts it (weights ≥ 0 summing to 1): the node carries no mass', async () => {
    const source = { nodes: [{ id: 'a', features: [0], weight: 1 }, { id: 'b', features: [5], weight: 0 }], edges: [{ source: 'a', target: 'b' }] };
    const res = await s.req('POST', '/rd/distortion', { body: { source, target: path3([0, 1]) } });
    expect(res.status, res.text).toBe(200);
    const fromB = (res.json.plan as [number, number, number][]).filter(([i]) => i === 1).reduce((m, [, , v]) => m + v, 0);
    expect(fromB).toBe(0);
    expect(res.json.value).toBe(s.rt.resolve('rd:fgw').distortion(source, path3([0, 1])).value);
    // A negative weight is still refused, naming it.
    const negative = await s.req('POST', '/rd/distortion', { body: { source: { ...source, nodes: [{ ...source.nodes[0]!, weight: 1.5 }, { ...source.nodes[1]!, weight: -0.5 }] }, target: path3([0, 1]) } });
    expect(negative.status, negative.text).toBe(400);
    expect(negative.json.errors[0].path).toBe('body.source.nodes.1.weight');
  });

  it("options take alpha, method, epsilon and maxIter only: rd-fgw's other options are the server's (docs/api.md)", async () => {
    for (const key of ['unreachable', 'structure', 'normalize', 'weights', 'solver']) {
      const res = await s.req('POST', '/rd/distortion', { body: { source: path3([0, 1]), target: path3([0, 1]), options: { [key]: 'x' } } });
      expect(res.status, res.text).toBe(400);
      expect(res.json.errors[0].path).toBe(`body.options.${key}`);
    }
  });

  it("POST /rd/series/:id/points: a graph step's meta.<key> that its measurement writes is 400 naming body.meta.<key>, and nothing is stored", async () => {
    const series = (await s.req('POST', '/rd/series', { body: { sessionId, name: 'meta', reference: path3([0, 1]) } })).json.id as string;
    const res = await s.req('POST', `/rd/series/${series}/points`, { body: { rate: 1, graph: path3([0, 1, 2]), meta: { iterations: 3, converged: false } } });
    expect(res.status, res.text).toBe(400);
    expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(['body.meta.iterations', 'body.meta.converged']);
    expect((await s.rt.resolve('storage').getRdSeries('tenant-a', series))!.points).toEqual([]);
    const ok = await s.req('POST', `/rd/series/${series}/points`, { body: { rate: 1, graph: path3([0, 1, 2]), meta: { run: 3 } } });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json.point.meta).toMatchObject({ run: 3, algorithm: 'fgw', nodes: 3, edges: 2 });
  });

  it("POST /rd/series: metadata.reference, .distortionAlgorithm and .distortionOptions (the series' server-kept keys) are 400 naming body.metadata.<key>, nothing stored: a reference past maxGraphNodes or an unknown algorithm cannot come in through metadata", async () => {
    const stored = async () => (await s.rt.resolve('storage').listRdSeries('tenant-a', { sessionId })).length;
    const before = await stored();
    const big = path3(Array.from({ length: 600 }, (_, i) => i % 5));
    for (const metadata of [{ reference: big }, { reference: path3([0]), distortionAlgorithm: 'nope' }, { distortionOptions: { solver: 'bogus' } }]) {
      const res = await s.req('POST', '/rd/series', { body: { sessionId, name: 'smuggled', metadata: { note: 1, ...metadata } } });
      expect(res.status, res.text).toBe(400);
      expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(Object.keys(metadata).map((k) => `body.metadata.${k}`));
    }
    expect(await stored()).toBe(before);
  });

  it('POST /merges: metadata.excluded (written by a federation into the merge provenance entry), .federation and .strategy are 400 naming body.metadata.<key>', async () => {
    const t = (await s.req('POST', '/traces', { body: { sessionId, runner: 'r', task: { input: 'a' }, output: { ok: true, stdout: 'a', stderr: '' } } })).json.trace;
    for (const key of ['excluded', 'federation', 'strategy']) {
      const res = await s.req('POST', '/merges', { body: { parentIds: [t.id], metadata: { [key]: [{ label: 'branch-2', reason: 'forged' }] } } });
      expect(res.status, res.text).toBe(400);
      expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual([`body.metadata.${key}`]);
    }
    const ok = await s.req('POST', '/merges', { body: { parentIds: [t.id], metadata: { ticket: 'OPS-1' } } });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json.trace.metadata).toEqual({ ticket: 'OPS-1', strategy: 'union' });
  });

  it('computes FGW distortion between two graphs', async () => {
    const same = await s.req('POST', '/rd/distortion', { body: { source: path3([0, 1, 2]), target: path3([0, 1, 2]) } });
    expect(same.status, same.text).toBe(200);
    expect(same.json.algorithm).toBe('fgw');
    expect(same.json.value).toBeCloseTo(0, 6);
    expect(Array.isArray(same.json.plan)).toBe(true);
    const different = await s.req('POST', '/rd/distortion', { body: { source: path3([0, 1, 2]), target: path3([5, 9, 20]), options: { alpha: 0.5 } } });
    expect(different.status).toBe(200);
    expect(different.json.value).toBeGreaterThan(same.json.value + 1e-6);
    const unknown = await s.req('POST', '/rd/distortion', { body: { source: path3([0]), target: path3([1]), algorithm: 'nope' } });
    expect(unknown.status).toBe(422);
    expect(unknown.json).toMatchObject({ status: 422, code: 'LIMIT_RD_INVALID_INPUT' });
    expect(unknown.json.errors[0].path).toBe('body.algorithm');
    const badAlpha = await s.req('POST', '/rd/distortion', { body: { source: path3([0]), target: path3([1]), options: { alpha: 2 } } });
    expect(badAlpha.status).toBe(400);
    expect(badAlpha.json).toMatchObject({ status: 400, code: 'LIMIT_VALIDATION' });
    expect(badAlpha.json.errors[0].path).toBe('body.options.alpha');
  });

  it('/rd/distortion of a graph with itself is 0 when its features tell no node apart (was 1.11 for a path, exact)', async () => {
    const nodes = Array.from({ length: 6 }, (_, i) => ({ id: `n${i}`, features: [0] }));
    const g = { nodes, edges: [0, 1, 2, 3, 4].map((k) => ({ source: `n${k}`, target: `n${k + 1}` })) };
    for (const method of ['exact', 'entropic']) {
      const res = await s.req('POST', '/rd/distortion', { body: { source: g, target: g, options: { method } } });
      expect(res.status, res.text).toBe(200);
      expect(res.json.value, method).toBeLessThan(method === 'exact' ? 1e-12 : 0.001);
    }
  });

  it('/rd/distortion of features whose costs are near the largest double answers the right value and a coupling (rd-audit #1)', async () => {
    const body = {
      source: { nodes: [{ id: 'a', features: [1e154] }, { id: 'b', features: [-1e154] }], edges: [] },
      target: { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] },
    };
    const res = await s.req('POST', '/rd/distortion', { body });
    expect(res.status, res.text).toBe(200);
    // Was 2.5e307 with a plan of mass 0.5: every feature cost is about 1e308, so (1 − α)·1e308.
    expect(res.json.value / 5e307).toBeCloseTo(1, 12);
    expect((res.json.plan as [number, number, number][]).reduce((sum, [, , m]) => sum + m, 0)).toBe(1);
  });

  it("/rd/distortion's answers validate against the response schema of GET /openapi.json", async () => {
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    const schema = doc.paths['/rd/distortion'].post.responses['200'].content['application/json'].schema;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const source = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] };
    const target = { nodes: [{ id: 'x', features: [0] }], edges: [] };
    for (const options of [{}, { method: 'entropic', epsilon: 0.05 }]) {
      const res = await s.req('POST', '/rd/distortion', { body: { source, target, options } });
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.json)).toEqual(expect.arrayContaining(['method', 'alpha', 'linTerm', 'gwTerm', 'n1', 'n2']));
      expect(validate(res.json), JSON.stringify(validate.errors)).toBe(true);
    }
    expect(schema.properties.n1).toMatchObject({ type: 'integer' });
  });

  it('tracks a series by distortions and by graphs, and finds its knee', async () => {
    // A graph step is measured against the series' reference with rd:fgw, as /rd/distortion does.
    const measured = await s.req('POST', '/rd/series', { body: { sessionId, name: 'graphs', reference: path3([0, 1, 2]) } });
    expect(measured.status, measured.text).toBe(201);
    const byGraph = await s.req('POST', `/rd/series/${measured.json.id}/points`, { body: { rate: 7, graph: path3([0, 1, 3]) } });
    expect(byGraph.status, byGraph.text).toBe(201);
    const direct = await s.req('POST', '/rd/distortion', { body: { source: path3([0, 1, 3]), target: path3([0, 1, 2]) } });
    // The answer is the point and the series' totals, not the series.
    expect(byGraph.json).toMatchObject({ seriesId: measured.json.id, pointCount: 1, point: { step: 0, rate: 7, meta: { algorithm: 'fgw' } } });
    expect(byGraph.json.pointBytes).toBe(Buffer.byteLength(JSON.stringify(byGraph.json.point)));
    expect(byGraph.json.point.distortion).toBeGreaterThan(0);
    expect(byGraph.json.point.distortion).toBeCloseTo(direct.json.value, 6);
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(doc.paths['/rd/series/{id}/points'].post.responses['201'].content['application/json'].schema);
    expect(validate(byGraph.json), JSON.stringify(validate.errors)).toBe(true);

    const series = await s.req('POST', '/rd/series', { body: { sessionId, name: 'curve' } });
    expect(series.status, series.text).toBe(201);
    const id = series.json.id as string;
    for (const p of ELBOW) {
      const res = await s.req('POST', `/rd/series/${id}/points`, { body: p });
      expect(res.status, res.text).toBe(201);
    }
    const graphWithoutReference = await s.req('POST', `/rd/series/${id}/points`, { body: { rate: 8, graph: path3([0]) } });
    expect(graphWithoutReference.status).toBeGreaterThanOrEqual(400);
    expect(graphWithoutReference.status).toBeLessThan(500);

    for (const detector of ['kneedle', 'menger']) {
      const knee = await s.req('GET', `/rd/knee?series=${id}&detector=${detector}`);
      expect(knee.status, knee.text).toBe(200);
      expect(knee.json).toMatchObject({ seriesId: id, detector });
      expect(knee.json.point.rate).toBe(3);
    }
    const defaulted = await s.req('GET', `/rd/knee?series=${id}`);
    expect(defaulted.json.detector).toBe('kneedle');
    const badDetector = await s.req('GET', `/rd/knee?series=${id}&detector=magic`);
    expect(badDetector.status).toBe(422);
    expect(badDetector.json).toMatchObject({ status: 422, code: 'LIMIT_RD_INVALID_INPUT' });
    expect(badDetector.json.errors[0].path).toBe('query.detector');
    // An unknown series is the series not found (not an unknown route, which is a 404 too).
    const missingSeries = { status: 404, code: 'LIMIT_NOT_FOUND', detail: expect.stringContaining('missing') };
    expect((await s.req('GET', '/rd/knee?series=missing')).json).toMatchObject(missingSeries);
    expect((await s.req('POST', '/rd/series/missing/points', { body: { rate: 1, distortion: 1 } })).json).toMatchObject(missingSeries);

    // Another tenant sees nothing and changes nothing.
    const before = await snapshot(s.storage, 'tenant-a');
    // The same answer as for a series or session that exists nowhere.
    const unseen = (what: string) => ({ status: 404, code: 'LIMIT_NOT_FOUND', detail: expect.stringContaining(what) });
    expect((await s.req('GET', `/rd/knee?series=${id}`, { key: KEYS.B })).json).toMatchObject(unseen(id));
    expect((await s.req('POST', `/rd/series/${id}/points`, { key: KEYS.B, body: { rate: 9, distortion: 1 } })).json).toMatchObject(unseen(id));
    expect((await s.req('POST', '/rd/series', { key: KEYS.B, body: { sessionId, name: 'x' } })).json).toMatchObject(unseen(sessionId));
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
  });

  it('POST /rd/series refuses a reference or options rd:fgw can never measure, naming the field, and stores nothing (rd-audit #6)', async () => {
    const node = (id: string, features: number[]) => ({ id, features });
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ reference: { nodes: [node('a', [0]), node('a', [1])], edges: [] } }, 'body.reference.nodes.1.id', /duplicate node id "a"/],
      [{ reference: { nodes: [node('a', [0]), node('b', [1])], edges: [{ source: 'a', target: 'q' }] } }, 'body.reference.edges.0.target', /q/],
      [{ reference: { nodes: [node('a', [0]), node('b', [1, 2])], edges: [] } }, 'body.reference.nodes.1.features', /./],
      [{ reference: path3([0, 1]), distortionOptions: { method: 'entropic', epsilon: 5e-324 } }, 'body.distortionOptions.epsilon', /1\/ε overflows/],
      // Without a reference no graph step is measured: an algorithm or options would be dropped unused.
      [{ distortionOptions: { method: 'entropic', epsilon: 0.05 } }, 'body.distortionOptions', /applies only to a series with a reference graph/],
      [{ distortionAlgorithm: 'fgw' }, 'body.distortionAlgorithm', /applies only to a series with a reference graph/],
    ];
    const before = await snapshot(s.storage, 'tenant-a');
    for (const [extra, path, message] of cases) {
      const res = await s.req('POST', '/rd/series', { body: { sessionId, name: 'never', ...extra } });
      expect(res.status, res.text).toBe(422);
      expect(res.json.code).toBe('LIMIT_RD_INVALID_INPUT');
      expect(res.json.errors.map((e: { path: string }) => e.path), res.text).toContain(path);
      expect(res.json.detail).toMatch(message);
      expect(res.json.detail).toMatch(/^reference|^distortionOptions|^distortionAlgorithm/);
    }
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
    // A measurable reference with valid options is created as before.
    const ok = await s.req('POST', '/rd/series', { body: { sessionId, name: 'fine', reference: path3([0, 1]), distortionOptions: { method: 'entropic', epsilon: 0.05 } } });
    expect(ok.status, ok.text).toBe(201);
  });

  it("a step's graph the reference cannot be compared with is 422 in the step's terms: graph.… (body.graph…) and reference.…, never the solver's source/target", async () => {
    const id = (await s.req('POST', '/rd/series', { body: { sessionId, name: 'dims', reference: path3([0, 1, 2]) } })).json.id as string;
    const wide = { nodes: [{ id: 'a', features: [0, 1] }, { id: 'b', features: [1, 1] }], edges: [{ source: 'a', target: 'b' }] };
    const dims = await s.req('POST', `/rd/series/${id}/points`, { body: { rate: 1, graph: wide } });
    expect(dims.status, dims.text).toBe(422);
    expect(dims.json.detail).toMatch(/^graph\.nodes\[0\]\.features: has 2 entries but reference\.nodes\[0\]\.features has 1/);
    expect(dims.json.errors.map((e: { path: string }) => e.path)).toEqual(['body.graph.nodes.0.features']);
    const far = { nodes: [{ id: 'a', features: [1e200] }], edges: [] };
    const overflow = await s.req('POST', `/rd/series/${id}/points`, { body: { rate: 1, graph: far } });
    expect(overflow.status, overflow.text).toBe(422);
    expect(overflow.json.detail).toMatch(/^graph\.nodes\[0\]\.features: and reference\.nodes\[\d\]\.features are so far apart/);
    expect(overflow.json.errors.map((e: { path: string }) => e.path)).toEqual(['body.graph.nodes.0.features']);
    expect((await s.req('GET', `/rd/knee?series=${id}`)).json.points).toEqual([]);
  });

  it('an explicit step of Number.MAX_SAFE_INTEGER is refused naming body.step, before a graph is measured, and later default steps work (rd-audit #7)', async () => {
    const created = await s.req('POST', '/rd/series', { body: { sessionId, name: 'steps', reference: path3([0, 1, 2]) } });
    const id = created.json.id as string;
    const huge = await s.req('POST', `/rd/series/${id}/points`, { body: { rate: 5, distortion: 0.1, step: Number.MAX_SAFE_INTEGER } });
    expect(huge.status, huge.text).toBe(422);
    expect(huge.json.errors.map((e: { path: string }) => e.path)).toEqual(['body.step']);
    // A graph whose features do not match the reference's would be refused when measured: the step is refused first.
    const graph = { nodes: [{ id: 'x', features: [0, 1] }], edges: [] };
    const first = await s.req('POST', `/rd/series/${id}/points`, { body: { rate: 5, graph, step: Number.MAX_SAFE_INTEGER } });
    expect(first.status, first.text).toBe(422);
    expect(first.json.detail).toMatch(/^step: /);
    // Was 400 "step: Too big" for every default step after the first one was stored.
    const next = await s.req('POST', `/rd/series/${id}/points`, { body: { rate: 6, distortion: 0.05 } });
    expect(next.status, next.text).toBe(201);
    expect(next.json.point.step).toBe(0);
  });

  it('a step into a series whose session is closed answers 409 LIMIT_SESSION_CLOSED, which /openapi.json lists for the route, and stores nothing', async () => {
    const closing = (await s.req('POST', '/sessions', { body: { name: 'rd-closed' } })).json.id;
    const series = (await s.req('POST', '/rd/series', { body: { sessionId: closing, name: 'c' } })).json.id;
    expect((await s.req('POST', `/rd/series/${series}/points`, { body: { rate: 1, distortion: 2 } })).status).toBe(201);
    expect((await s.req('POST', `/sessions/${closing}/close`)).status).toBe(200);
    const res = await s.req('POST', `/rd/series/${series}/points`, { body: { rate: 2, distortion: 1 } });
    expect(res.status, res.text).toBe(409);
    expect(res.json.code).toBe('LIMIT_SESSION_CLOSED');
    expect((await s.req('GET', `/rd/knee?series=${series}`)).json.points).toEqual([{ step: 0, rate: 1, distortion: 2 }]);
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    expect(Object.keys(doc.paths['/rd/series/{id}/points'].post.responses)).toContain('409');
  });

  it('every RD point the API answers has its keys in order step, rate, distortion, meta: with or without a step, stored or ad hoc', async () => {
    const keys = (p: object) => Object.keys(p);
    const plain = ['step', 'rate', 'distortion'];
    const withMeta = [...plain, 'meta'];
    const id = (await s.req('POST', '/rd/series', { body: { sessionId, name: 'order', reference: path3([0, 1, 2]) } })).json.id as string;
    const steps = [
      { body: { distortion: 0.5, rate: 1 }, keys: plain },
      { body: { meta: { note: 'x' }, distortion: 0.25, rate: 2 }, keys: withMeta },
      { body: { distortion: 0.125, rate: 3, step: 9 }, keys: plain },
      { body: { graph: path3([0, 1, 3]), rate: 4 }, keys: withMeta },
    ];
    for (const step of steps) {
      const res = await s.req('POST', `/rd/series/${id}/points`, { body: step.body });
      expect(res.status, res.text).toBe(201);
      expect(keys(res.json.point), JSON.stringify(step.body)).toEqual(step.keys);
    }
    const knee = await s.req('GET', `/rd/knee?series=${id}`);
    expect(knee.status, knee.text).toBe(200);
    // Sorted by rate, as appended.
    expect(knee.json.points.map(keys)).toEqual(steps.map((step) => step.keys));
    const adHoc = await s.req('POST', '/rd/knee', { body: { points: ELBOW.map((p, i) => (i % 2 ? { distortion: p.distortion, rate: p.rate, step: i } : { distortion: p.distortion, rate: p.rate })) } });
    expect(adHoc.status, adHoc.text).toBe(200);
    expect(adHoc.json.points.map(keys)).toEqual(ELBOW.map(() => plain));
    expect(keys(adHoc.json.point)).toEqual(plain);
  });

  it('finds the knee of ad hoc points, in any order', async () => {
    const shuffled = [...ELBOW].reverse();
    for (const detector of ['kneedle', 'menger']) {
      const res = await s.req('POST', '/rd/knee', { body: { points: shuffled, detector } });
      expect(res.status, res.text).toBe(200);
      expect(res.json.detector).toBe(detector);
      expect(res.json.points.map((p: { rate: number }) => p.rate)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(res.json.point.rate).toBe(3);
    }
  });

  it("a detector's refusal of a point names that point as the request gave it, not its place after sorting by rate", async () => {
    // Menger refuses the middle point (in rate order) of three points 1e-320 apart: it is body.points[2].
    const points = [{ rate: 2e-320, distortion: 0 }, { rate: 0, distortion: 0 }, { rate: 1e-320, distortion: 1e-320 }];
    const res = await s.req('POST', '/rd/knee', { body: { points, detector: 'menger' } });
    expect(res.status, res.text).toBe(422);
    expect(res.json.code).toBe('LIMIT_RD_INVALID_INPUT');
    expect(res.json.errors[0].path).toBe('body.points.2');
    expect(res.json.detail).toMatch(/^points\[2\]: /);
    expect(res.json.details.field).toBe('points[2]');
  });

  it("POST /rd/knee takes the detector's per-call options (the fix Menger's refusal gives), checked by the detector's own schema", async () => {
    // Raw Menger refuses three points 1e-320 apart; its fix says how this request turns normalize on.
    const points = [{ rate: 2e-320, distortion: 0 }, { rate: 0, distortion: 0 }, { rate: 1e-320, distortion: 1e-320 }];
    const refused = await s.req('POST', '/rd/knee', { body: { points, detector: 'menger' } });
    expect(refused.status, refused.text).toBe(422);
    expect(refused.json.fix).toMatch(/^Send "options": \{ "normalize": true \} in the body, or scale the curve up/);
    // Following it works: min–max normalised, the middle point (in rate order) is the knee.
    const followed = await s.req('POST', '/rd/knee', { body: { points, detector: 'menger', options: { normalize: true } } });
    expect(followed.status, followed.text).toBe(200);
    expect(followed.json.point).toEqual({ step: 2, rate: 1e-320, distortion: 1e-320 });
    // An option overrides the configured one for this call only; kneedle's own options reach kneedle.
    expect((await s.req('POST', '/rd/knee', { body: { points: ELBOW, detector: 'kneedle', options: { online: true, S: 2 } } })).status).toBe(200);
    // An option the chosen detector lacks (kneedle's S under menger, a typo) or a wrong value: 400 naming it.
    for (const [detector, options, path] of [
      ['menger', { S: 2 }, 'body.options.S'],
      ['menger', { normalise: true }, 'body.options.normalise'],
      ['menger', { normalize: 'yes' }, 'body.options.normalize'],
      ['kneedle', { normalize: true }, 'body.options.normalize'],
      ['kneedle', { S: -1 }, 'body.options.S'],
    ] as const) {
      const res = await s.req('POST', '/rd/knee', { body: { points: ELBOW, detector, options } });
      expect(res.status, `${detector} ${JSON.stringify(options)}: ${res.text}`).toBe(400);
      expect(res.json.code).toBe('LIMIT_VALIDATION');
      expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual([path]);
    }
    const typo = await s.req('POST', '/rd/knee', { body: { points: ELBOW, detector: 'menger', options: { normalise: true } } });
    expect(typo.json.errors[0].message).toContain('the options of knee:menger are normalize');
    // The OpenAPI document shows the field.
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    const body = doc.paths['/rd/knee'].post.requestBody.content['application/json'].schema;
    expect(body.properties.options).toMatchObject({ type: 'object', description: expect.stringContaining('body.options.<key>') });
  });

  it("GET /rd/knee: a stored point the detector refuses is named by its series and step (query.series), not as a body field of the GET", async () => {
    const id = (await s.req('POST', '/rd/series', { body: { sessionId, name: 'close points' } })).json.id as string;
    for (const [step, p] of [[0, { rate: 2e-320, distortion: 0 }], [1, { rate: 0, distortion: 0 }], [2, { rate: 1e-320, distortion: 1e-320 }]] as const) {
      expect((await s.req('POST', `/rd/series/${id}/points`, { body: { ...p, step } })).status).toBe(201);
    }
    const res = await s.req('GET', `/rd/knee?series=${id}&detector=menger`);
    expect(res.status, res.text).toBe(422);
    expect(res.json.code).toBe('LIMIT_RD_INVALID_INPUT');
    expect(res.json.errors[0].path).toBe('query.series');
    expect(res.json.detail).toMatch(new RegExp(`^RD series "${id}", step 2 \\(rate 1e-320, distortion 1e-320\\): .*Menger curvature overflows`));
    // GET takes no options: the fix names the plugin's configured option, which a stored series' knee uses.
    expect(res.json.fix).toMatch(/^Set plugins\['knee-menger'\]\.normalize: true in the config/);
  });
});

describe('api-http rate–distortion with configured rd-fgw options', () => {
  // The route adds the server's time limit to every call; that must not reset the configured options.
  const configured = { method: 'entropic', alpha: 0.2, epsilon: 0.5 } as const;
  const g1 = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] };
  const g2 = { nodes: [{ id: 'x', features: [3] }, { id: 'y', features: [1] }, { id: 'z', features: [2] }], edges: [{ source: 'x', target: 'y' }] };
  let s: Server;
  beforeAll(async () => {
    s = await startServer({ plugins: { 'rd-fgw': configured } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('/rd/distortion and a graph step use the configured method and alpha; a body option overrides only itself', async () => {
    const fgw = s.rt.resolve('rd:fgw');
    const expected = fgw.distortion(g1, g2);
    expect(expected).toMatchObject({ method: 'entropic', alpha: 0.2 });
    const direct = await s.req('POST', '/rd/distortion', { body: { source: g1, target: g2 } });
    expect(direct.status, direct.text).toBe(200);
    expect(direct.json).toMatchObject({ method: 'entropic', alpha: 0.2 });
    expect(direct.json.value).toBeCloseTo(expected.value, 12);
    const alpha3 = await s.req('POST', '/rd/distortion', { body: { source: g1, target: g2, options: { alpha: 0.3 } } });
    expect(alpha3.json).toMatchObject({ method: 'entropic', alpha: 0.3 });
    expect(alpha3.json.value).toBeCloseTo(fgw.distortion(g1, g2, { alpha: 0.3 }).value, 12);

    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'rd-configured' } })).json.id;
    const series = await s.req('POST', '/rd/series', { body: { sessionId, name: 'configured', reference: g1 } });
    expect(series.status, series.text).toBe(201);
    const step = await s.req('POST', `/rd/series/${series.json.id}/points`, { body: { rate: 1, graph: g2 } });
    expect(step.status, step.text).toBe(201);
    expect(step.json.point.distortion).toBeCloseTo(fgw.distortion(g2, g1).value, 12);
  });
});

describe('api-http rate–distortion time limit (rdTimeLimitMs)', () => {
  const LIMIT = 300;
  /**
   * Time a limited request may take beyond its computation (reading the body, the hand-over to the
   * thread, the answer), and a computation beyond its limit (one step of the solver): both are a few
   * ms on an idle machine; the rest is for a loaded one.
   */
  const SLACK = 2_500;
  let s: Server;
  beforeAll(async () => {
    s = await startServer({ api: { rdTimeLimitMs: LIMIT }, plugins: { 'rd-fgw': true } });
    // Start the worker threads: their start-up (seconds on a loaded machine) is not counted by the
    // limit (plugins/rd-fgw/README.md) and is not what these tests measure.
    const warm = await Promise.all([0, 1].map(() => s.req('POST', '/rd/distortion', { body: { source: big(6, 1), target: big(5, 2) } })));
    for (const w of warm) expect(w.status, w.text).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
  });

  /** A connected graph of n nodes: a path plus chords, 4 features per node (deterministic). */
  const big = (n: number, shift: number) => ({
    nodes: Array.from({ length: n }, (_, i) => ({ id: `v${i}`, features: [Math.sin(i + shift), Math.cos(i * 0.7 + shift), (i % 7) / 7, ((i * shift) % 11) / 11] })),
    edges: [
      ...Array.from({ length: n - 1 }, (_, i) => ({ source: `v${i}`, target: `v${i + 1}` })),
      ...Array.from({ length: n }, (_, i) => ({ source: `v${i}`, target: `v${(i * 37 + shift * 11) % n}` })),
    ],
  });

  it('a heavy /rd/distortion answers 422 naming the limit in time, and /health answers right after', async () => {
    const t0 = performance.now();
    const res = await s.req('POST', '/rd/distortion', {
      body: { source: big(500, 1), target: big(500, 2), options: { method: 'entropic', maxIter: 10_000, epsilon: 1e-6 } },
    });
    const ms = performance.now() - t0;
    expect(res.status, res.text).toBe(422);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.json.code).toBe('LIMIT_RD_NOT_CONVERGED');
    expect(res.json.detail).toMatch(new RegExp(`time limit of ${LIMIT} ms`));
    expect(res.json.errors[0].path).toBe('body');
    expect(res.json.fix).toMatch(/rdTimeLimitMs/);
    // The server's own account: the computation was stopped on reaching the limit, part-way (not
    // after running to maxIter and reporting the time afterwards)…
    const [, elapsed, where] = /\((\d+) ms elapsed, (.+)\)$/.exec(res.json.detail) ?? [];
    expect(Number(elapsed)).toBeGreaterThanOrEqual(LIMIT);
    expect(Number(elapsed)).toBeLessThan(LIMIT + SLACK);
    expect(where).not.toMatch(/outer iteration 10000 of maxIter 10000/);
    // …and the answer came right after it stopped: the request spent little time outside the
    // computation the limit bounds (no unbounded work before or after it).
    expect(ms - Number(elapsed)).toBeLessThan(SLACK);
    // The server still answers afterwards.
    const health = await s.req('GET', '/health', { key: null });
    expect(health.status).toBe(200);
  });

  it('graph steps of a series are limited too; small requests are unaffected', async () => {
    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'rd-limit' } })).json.id;
    const series = await s.req('POST', '/rd/series', { body: { sessionId, name: 'heavy', reference: big(500, 3), distortionOptions: { method: 'entropic', epsilon: 1e-6, maxIter: 10_000 } } });
    expect(series.status, series.text).toBe(201);
    const t0 = performance.now();
    const point = await s.req('POST', `/rd/series/${series.json.id}/points`, { body: { rate: 1, graph: big(500, 4) } });
    expect(point.status, point.text).toBe(422);
    expect(point.json.code).toBe('LIMIT_RD_NOT_CONVERGED');
    expect(point.json.errors[0].path).toBe('body');
    expect(performance.now() - t0).toBeLessThan(LIMIT + SLACK);
    const small = await s.req('POST', '/rd/distortion', { body: { source: big(6, 1), target: big(5, 2) } });
    expect(small.status, small.text).toBe(200);
    expect(small.json.converged).toBe(true);
  });

  it('caps maxIter at 10000 and does not accept a client time limit', async () => {
    const g = big(3, 1);
    const tooMany = await s.req('POST', '/rd/distortion', { body: { source: g, target: g, options: { maxIter: 10_001 } } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.errors[0].path).toBe('body.options.maxIter');
    const own = await s.req('POST', '/rd/distortion', { body: { source: g, target: g, options: { timeLimitMs: 1e9 } } });
    expect(own.status).toBe(400);
    expect(own.json.code).toBe('LIMIT_VALIDATION');
    expect(own.json.errors).toEqual([expect.objectContaining({ path: 'body.options.timeLimitMs' })]);
  });
});

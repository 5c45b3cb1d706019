/**
 * validate.trace checks common traces by hand instead of through zod (bulk inserts spend most of
 * their validation time in zod). It must be indistinguishable from `parseOrThrow(Trace, …)` (plus what validate does to every
 * parsed trace, traceAsStored: the JSON-safety check, `__proto__` keys kept, the stored form): the
 * same result (keys in the same order, unknown keys stripped, defaults applied, fresh containers,
 * unknown values passed through by reference) and the same errors. These tests compare the two on
 * every single-field mutation of three valid traces (boundary values included) and on seeded
 * multi-field mutations.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LimitError, TASK_LIMITS, Trace, parseOrThrow, traceAsStored, validate, mulberry32 as rng } from 'limit-graph';

type Obj = Record<string, unknown>;


function baseTraces(): Obj[] {
  const meta = { bench: true, nested: { a: [1, 2] } };
  return [
    {
      id: 'b-1', sessionId: 's1', tenant: 'bench', parentIds: [], runner: 'python',
      task: { input: 'print(2)', kind: 'code', language: 'python' },
      output: { ok: true, stdout: '2\n', stderr: '' }, metrics: { latencyMs: 12.5 },
      status: 'ok', flags: [], createdAt: '2024-01-01T00:00:00.000Z', completedAt: '2024-01-01T00:00:00.012Z', metadata: meta,
    },
    { id: 't', sessionId: 's', tenant: 'default', runner: 'r', task: { input: '' }, status: 'running', createdAt: '2024-02-29T23:59:59+02:00' },
    {
      metadata: {}, createdAt: '2030-12-31T10:00:00.1-05:30', status: 'error', tenant: 'x:y_z-1', sessionId: 'S.1', id: 'A_b:c-d.e', runner: 'openai',
      task: { toolOutputs: undefined, args: ['-c', 'x'], env: { A: '1' }, files: { 'a.py': 'x' }, language: undefined, kind: 'prompt', input: 'hello' },
      output: { error: { code: 'E', message: 'boom', extra: 1 }, value: { any: 'thing' }, stderr: 'e', stdout: '', ok: false },
      metrics: { exitCode: -1, tokensOut: 0, tokensIn: 10, latencyMs: 0 },
      parentIds: ['p1', 'p2'], extra: 'stripped',
    },
  ];
}

/** Built fresh for every use: mutations may write into them. */
const values = (): unknown[] => [
  undefined, null, 0, -0, 1, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, '', 'x', '.x', 'a/b', 'a b', 'é', true, false, [], [undefined], ['x'],
  {}, { a: 1 }, Object.create(null), new Date(0), new (class Foo {})(), 'x'.repeat(128), 'x'.repeat(129), '😀'.repeat(64), '😀'.repeat(65),
  'x'.repeat(64), 'x'.repeat(65), '😀'.repeat(40), '2024-01-01T00:00:00Z', '2024-01-01T00:00:00.000z', '2023-02-29T00:00:00Z',
  '2024-01-01 00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:00.000+0100', 'code', 'prompt', 'nope', 'ok', 'quarantined',
];

/** Unusual containers, each built fresh (some are exotic on purpose). */
const EXOTIC_KINDS = 12;
function exotic(kind: number): unknown {
  switch (kind) {
    case 0: return JSON.parse('{"__proto__": {"x": 1}, "a": 1}');
    case 1: return { [Symbol('s')]: 1, a: 1 };
    case 2: return { constructor: 'not a function' };
    case 3: return { constructor: () => 1 };
    case 4: { const o = { a: 1 }; Object.defineProperty(o, 'hidden', { value: 2, enumerable: false }); return o; }
    case 5: return { get a() { return 'got'; } };
    case 6: return [, 'x']; // eslint-disable-line no-sparse-arrays
    case 7: return Object.assign(new (class Arr extends Array {})(), ['a']);
    case 8: return { 2: 'b', 1: 'a', z: 'z' };
    case 9: return { a: undefined };
    case 10: return { code: 'C', message: 'M' };
    default: return [{ id: 'f1', traceId: 't', kind: 'Anomaly', severity: 3, reason: 'r', ruleId: 'x', autoDetected: true, at: '2024-01-01T00:00:00Z' }];
  }
}

const PATHS = [
  ['id'], ['sessionId'], ['tenant'], ['parentIds'], ['parentIds', 0], ['runner'], ['task'], ['task', 'input'], ['task', 'kind'], ['task', 'language'],
  ['task', 'files'], ['task', 'files', 'a.py'], ['task', 'env'], ['task', 'args'], ['task', 'args', 0], ['task', 'toolOutputs'], ['task', 'extra'],
  ['output'], ['output', 'ok'], ['output', 'stdout'], ['output', 'stderr'], ['output', 'value'], ['output', 'error'], ['output', 'error', 'code'],
  ['metrics'], ['metrics', 'latencyMs'], ['metrics', 'tokensIn'], ['metrics', 'tokensOut'], ['metrics', 'exitCode'], ['status'], ['flags'],
  ['createdAt'], ['completedAt'], ['metadata'], ['metadata', 'k'], ['unknownKey'],
];

/** Every replacement a mutation can make: deletion, each plain value, each exotic container. */
const CHOICES = 1 + values().length + EXOTIC_KINDS;

function setAt(trace: Obj, p: readonly (string | number)[], choice: number): void {
  let target: unknown = trace;
  for (const key of p.slice(0, -1)) {
    const next = (target as Obj)[key as string];
    if (typeof next !== 'object' || next === null) return;
    target = next;
  }
  if (typeof target !== 'object' || target === null || !Object.isExtensible(target)) return;
  const last = p[p.length - 1]! as string;
  if (choice === 0) delete (target as Obj)[last];
  else if (choice <= values().length) (target as Obj)[last] = values()[choice - 1];
  else (target as Obj)[last] = exotic(choice - 1 - values().length);
}

/** Deep copy of plain data (keeps undefined values and key order) so both validators see equal inputs. */
function clone(v: unknown): unknown {
  if (Array.isArray(v)) return Object.getPrototypeOf(v) === Array.prototype && Reflect.ownKeys(v).length === v.length + 1 ? v.map(clone) : v; // no holes, no extra keys
  if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype && Object.getOwnPropertySymbols(v).length === 0 && !Object.hasOwn(v, '__proto__') && Object.getOwnPropertyNames(v).length === Object.keys(v).length) {
    const out: Obj = {};
    for (const k of Object.keys(v)) out[k] = clone((v as Obj)[k]);
    return out;
  }
  return v;
}

/**
 * Everything observable about a validated value: own keys in order (undefined-valued ones included),
 * prototypes, array holes, and which containers are the input's own objects rather than copies.
 */
function describeValue(out: unknown, input: unknown): unknown {
  if (typeof out !== 'object' || out === null) return typeof out === 'number' ? { n: Object.is(out, -0) ? '-0' : String(out) } : out;
  const same = out === input;
  const proto = Object.getPrototypeOf(out) === Object.prototype ? 'Object' : Object.getPrototypeOf(out) === Array.prototype ? 'Array' : 'other';
  const keys = Reflect.ownKeys(out).filter((k) => !(Array.isArray(out) && k === 'length')).map(String);
  const inner = typeof input === 'object' && input !== null ? (input as Obj) : {};
  return { same, proto, keys, values: keys.map((k) => describeValue((out as Obj)[k], inner[k])) };
}

function outcome(fn: () => unknown, input: unknown) {
  try {
    return { ok: true, value: describeValue(fn(), input) };
  } catch (error) {
    if (!(error instanceof LimitError)) throw error;
    return { ok: false, code: error.code, message: error.message, details: error.details };
  }
}

describe('validate.trace fast path', () => {
  afterEach(() => vi.restoreAllMocks());

  /** Runs both validators on equal copies of `trace` and compares everything observable. */
  function compare(trace: Obj, label: string): boolean {
    const copy = clone(trace);
    const fast = outcome(() => validate.trace(trace), trace);
    // validate.trace is zod's parse followed by what every stored trace gets (traceAsStored).
    const zod = outcome(() => traceAsStored(parseOrThrow(Trace, copy, 'trace'), copy), copy);
    // `same` flags compare identity with each side's own input, so equal outcomes mean equal aliasing too.
    expect(fast, `${label}: ${JSON.stringify(copy)}`).toStrictEqual(zod);
    return fast.ok;
  }

  it('accepts and rejects exactly what zod does, with the same output and errors: every single-field mutation', () => {
    let accepted = 0;
    let cases = 0;
    for (let b = 0; b < baseTraces().length; b++) {
      for (const p of PATHS) {
        for (let choice = 0; choice < CHOICES; choice++) {
          const trace = baseTraces()[b]!;
          setAt(trace, p, choice);
          if (compare(trace, `base ${b}, ${p.join('.')} <- choice ${choice}`)) accepted++;
          cases++;
        }
      }
    }
    // Both branches are exercised: plenty of valid traces and plenty of rejected ones.
    expect(cases).toBeGreaterThan(5000);
    expect(accepted).toBeGreaterThan(cases / 5);
    expect(accepted).toBeLessThan(cases * 0.9);
  });

  it('accepts and rejects exactly what zod does: 3,000 seeded multi-field mutations', () => {
    const r = rng(20240601);
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const bases = baseTraces();
      const trace = bases[i % bases.length]!;
      const mutations = 2 + Math.floor(r() * 3);
      for (let m = 0; m < mutations; m++) setAt(trace, PATHS[Math.floor(r() * PATHS.length)]!, Math.floor(r() * CHOICES));
      if (compare(trace, `case ${i}`)) accepted++;
    }
    // Both branches are exercised (229 of the 3,000 are valid with this seed).
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(2900);
  });

  it('holds task.files, task.env and task.args to the TASK_LIMITS counts, as zod does', () => {
    const map = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'x']));
    const list = (n: number) => Array.from({ length: n }, () => 'x');
    for (const [key, make] of [['files', map], ['env', map], ['args', list]] as const) {
      const max = TASK_LIMITS[key];
      for (const n of [max, max + 1]) {
        const trace = baseTraces()[0]!;
        (trace.task as Obj)[key] = make(n);
        expect(compare(trace, `task.${key} of ${n}`)).toBe(n === max);
      }
      const trace = baseTraces()[0]!;
      (trace.task as Obj)[key] = make(max + 1);
      expect(() => validate.trace(trace)).toThrow(`Invalid trace: task.${key}: Too big: expected`);
    }
  });

  it('returns fresh containers and keeps unknown values by reference', () => {
    const [trace] = baseTraces() as [Obj & { metadata: Obj; parentIds: string[]; output: Obj }];
    (trace.output as Obj).value = { deep: true };
    const out = validate.trace(trace) as unknown as Obj & { metadata: Obj; parentIds: string[]; output: Obj };
    expect(out).not.toBe(trace);
    expect(out.metadata).not.toBe(trace.metadata);
    expect(out.metadata.nested).toBe(trace.metadata.nested);
    expect(out.parentIds).not.toBe(trace.parentIds);
    expect(out.output.value).toBe(trace.output.value);
    expect(Object.keys(out)).toEqual(['id', 'sessionId', 'tenant', 'parentIds', 'runner', 'task', 'output', 'metrics', 'status', 'flags', 'createdAt', 'completedAt', 'metadata']);
  });

  it('skips zod for a common trace and hands anything doubtful to zod', () => {
    const spy = vi.spyOn(Trace, 'safeParse');
    const [common, minimal] = baseTraces();
    validate.trace(common);
    validate.trace(minimal);
    expect(spy).not.toHaveBeenCalled();
    expect(() => validate.trace({ ...common, id: 'a/b' })).toThrow(/Invalid trace: id: Expected an id/);
    const withFlag = { ...common, flags: (exotic(EXOTIC_KINDS - 1) as object[]).map((f) => ({ ...f, traceId: common!.id })) };
    expect(validate.trace(withFlag).flags).toHaveLength(1);
    expect(spy).toHaveBeenCalledTimes(2);
  });
});

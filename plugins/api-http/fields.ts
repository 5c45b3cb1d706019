/**
 * Which request field a service error is about. Services name fields in their own terms — a
 * `details.field` relative to their input (`parentIds`, `source.nodes[3].weight`, `M[0][2]`,
 * `cursor`), or just the ids they could not find (`details.sessionId`, `details.traceId`, …). The
 * API answers with request paths (`body.parentIds`, `body.source.nodes.3.weight`, `query.series`,
 * `params.id`), so a client can tell which of its fields failed without reading the message.
 */
import type { FieldError } from './problem.ts';

export interface RequestParts {
  params: unknown;
  query: unknown;
  body: unknown;
}

/**
 * A route's translation of service field names whose first segment is not a field of its request:
 * `{ source: 'body.graph' }` — what the service calls `source` is the request's `body.graph`; `null`:
 * a service input that is not in the request (a stored reference graph).
 */
export type FieldMap = Record<string, string | null>;

const PREFIXES = ['body', 'query', 'params', 'header', 'path'];
/** Inputs the server sets itself: an error about them is about the request as a whole. */
const SERVER_FIELDS = new Set(['timeLimitMs', 'tenant', 'actor', 'signal']);
/** Details keys that carry ids (or names) the request may have given. */
const ID_KEYS = ['id', 'sessionId', 'traceId', 'seriesId', 'parentIds', 'parentId', 'traceIds', 'runner', 'series'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `source.nodes[3].weight` → `source.nodes.3.weight` (the dotted form zod issues use). */
function dotted(path: string): string {
  return path.replace(/\[(\d+)\]/g, '.$1').replace(/^\./, '');
}

/** Request paths for one service field (a matrix entry names two: its row's and its column's node). */
function toRequestPaths(raw: string, req: RequestParts, map: FieldMap): string[] {
  const path = dotted(raw);
  const [head = ''] = path.split('.', 1);
  if (PREFIXES.includes(head) && (head === 'path' || path.includes('.') || head === 'body')) return [path];
  // The feature cost matrix M[i][j]: node i of the source graph against node j of the target.
  const matrix = /^M\.(\d+)\.(\d+)$/.exec(path);
  if (matrix && ('source' in map || 'target' in map)) {
    const out = [map.source ? `${map.source}.nodes.${matrix[1]}.features` : undefined, map.target ? `${map.target}.nodes.${matrix[2]}.features` : undefined].filter((p): p is string => !!p);
    return out.length ? out : ['body'];
  }
  if (Object.hasOwn(map, head)) {
    const to = map[head];
    return [to ? `${to}${path.slice(head.length)}` : 'body'];
  }
  if (SERVER_FIELDS.has(head)) return ['body'];
  for (const part of ['params', 'query', 'body'] as const) {
    if (isObject(req[part]) && Object.hasOwn(req[part], head)) return [`${part}.${path}`];
  }
  return [`body.${path}`];
}

const sameValue = (a: unknown, b: unknown) =>
  a === b || (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]));

/** Where in the request an id the service named came from: by field name first, then by value. */
function locateId(key: string, value: unknown, req: RequestParts): string[] {
  const parts = (['params', 'query', 'body'] as const).filter((p) => isObject(req[p]));
  // Same name, same value (body.sessionId, body.parentIds, body.runner).
  for (const part of parts) {
    const given = (req[part] as Record<string, unknown>)[key];
    if (Object.hasOwn(req[part] as object, key) && sameValue(given, value)) return [`${part}.${key}`];
  }
  // Same value under another name (params.id for a traceId, query.series for a seriesId, an element of body.traceIds).
  const wanted = Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : typeof value === 'string' ? [value] : [];
  const found: string[] = [];
  for (const id of wanted) {
    let hit: string | undefined;
    for (const part of parts) {
      for (const [name, given] of Object.entries(req[part] as Record<string, unknown>)) {
        if (given === id) hit ??= `${part}.${name}`;
        else if (Array.isArray(given)) {
          const i = given.indexOf(id);
          if (i >= 0) hit ??= `${part}.${name}.${i}`;
        }
      }
    }
    if (hit && !found.includes(hit)) found.push(hit);
  }
  return found;
}

/**
 * The request fields a LimitError's details point at, each with the error's message (or the
 * issue's). Empty when the details name nothing the request holds.
 */
export function locateFields(message: string, details: Record<string, unknown> | undefined, req: RequestParts, map: FieldMap = {}): FieldError[] {
  if (!details) return [];
  const issues = Array.isArray(details.issues) ? details.issues.filter(isObject) : [];
  if (issues.length) {
    return issues.flatMap((i) => toRequestPaths(String(i.path ?? ''), req, map).map((path) => ({ path, message: String(i.message ?? '') })));
  }
  if (typeof details.field === 'string' && details.field !== '') {
    // A list field whose failing elements the details name (parentIds: the missing ones): point at those elements.
    const ids = details[details.field];
    if (Array.isArray(ids) && ids.length && !details.field.includes('.')) {
      const part = (['body', 'query'] as const).find((p) => isObject(req[p]) && Array.isArray((req[p] as Record<string, unknown>)[details.field as string]));
      if (part) {
        const list = (req[part] as Record<string, unknown[]>)[details.field]!;
        const elements = ids.map((id) => list.indexOf(id)).filter((i) => i >= 0).map((i) => `${part}.${details.field as string}.${i}`);
        if (elements.length) return [...new Set(elements)].map((path) => ({ path, message }));
      }
    }
    return toRequestPaths(details.field, req, map).map((path) => ({ path, message }));
  }
  // A record too large to store names its largest field (storage's LIMIT_PAYLOAD_TOO_LARGE): the
  // request's own field of that name, when the body has one (a provenance entry's `data`); a field of
  // a record the server built (a union merge's output) is no field of the request.
  if (typeof details.largestField === 'string' && isObject(req.body) && Object.hasOwn(req.body, details.largestField)) {
    return [{ path: `body.${details.largestField}`, message }];
  }
  const out: FieldError[] = [];
  for (const key of ID_KEYS) {
    if (!Object.hasOwn(details, key)) continue;
    for (const path of locateId(key, details[key], req)) if (!out.some((e) => e.path === path)) out.push({ path, message });
  }
  return out;
}

/**
 * The zod ↔ Fastify glue: routes declare zod schemas for params, query and body; the glue parses
 * each (strict objects, so unknown fields are refused), turns every issue into a problem error
 * naming the field, and keeps the schemas for the OpenAPI document. Fastify's own (ajv) validation
 * is not used, so the one source of truth for input is the zod schema.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { isLimitError, z } from 'limit-graph';
import { locateFields, type FieldMap } from './fields.ts';
import { ApiProblem, setErrorFields, type FieldError } from './problem.ts';

/** Who is calling: resolved from the API key (or config.tenant in `auth: none` mode). */
export interface Principal {
  tenant: string;
  /** Recorded as the provenance actor of writes made through the API. */
  actor: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

type Schema = z.ZodType | undefined;

const NO_QUERY = z.object({}).strict();
type Out<S extends Schema> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<P extends Schema, Q extends Schema, B extends Schema> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  principal: Principal;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteSpec<P extends Schema = Schema, Q extends Schema = Schema, B extends Schema = Schema> {
  method: Extract<HTTPMethods, 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'>;
  url: string;
  summary: string;
  tag: string;
  /** No API key needed (health, readiness, the API description). */
  public?: boolean;
  /**
   * A liveness or readiness probe: exempt from rate limiting, so that no client (another one behind
   * the same IP, or a key that spent its budget) can starve the orchestrator's probe into a 429.
   */
  probe?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  /**
   * A missing body is read as `{}` (for actions whose fields are all optional); so is an empty one
   * sent with Content-Type: application/json (see the JSON parser in server.ts).
   */
  bodyOptional?: boolean;
  /**
   * Service field names that are not the request's (`{ source: 'body.graph' }`), so a service error's
   * field is answered as the request path. Ids need none: they are found by name or value.
   */
  fields?: FieldMap;
  /** Success status (default 200). */
  status?: number;
  /** Documented responses (the success one and the problem statuses it can answer with). */
  responses: {
    schema?: z.ZodType; description: string; errors?: number[];
    /** A problem status's description for this route where it means more than the general one (openapi.ts STATUS_TEXT). */
    errorText?: Partial<Record<number, string>>;
    /** An error status also answered with this JSON body, not a problem document (GET /ready's 503). */
    errorSchema?: Partial<Record<number, z.ZodType>>;
  };
  handler(input: RouteInput<P, Q, B>): Promise<unknown> | unknown;
}

/** Every route declared through the glue, in registration order (the OpenAPI document reads it). */
export type RouteRegistry = RouteSpec[];

type Issue = z.core.$ZodIssue;

/** Whether a union member refused the value for its type alone (a string where it takes an array). */
const refusedByType = (issues: readonly Issue[]) => issues.every((i) => i.code === 'invalid_type' && i.path.length === 0);

function issueErrors(where: string, prefix: readonly PropertyKey[], issue: Issue): FieldError[] {
  const at = [...prefix, ...issue.path];
  const path = [where, ...at.map(String)].join('.');
  // Unrecognized keys sit on the parent object; one error per key, at the key's own path, so the
  // client sees which field to drop.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: `${path}.${key}`, message: `Unrecognized key: ${JSON.stringify(key)}` }));
  }
  // A union's own message is a bare "Invalid input". When one member took the value's type (the
  // array of `?status=ok&status=x`) and refused only its content, its issues say what is wrong and
  // where (`query.status.1`: the option list).
  if (issue.code === 'invalid_union') {
    const members = issue.errors.filter((issues) => !refusedByType(issues));
    if (members.length === 1) return members[0]!.flatMap((inner) => issueErrors(where, at, inner));
  }
  return [{ path, message: issue.message }];
}

export function issuesToFieldErrors(where: string, error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) => issueErrors(where, [], issue as Issue));
}

function parsePart<S extends Schema>(schema: S, value: unknown, where: string, errors: FieldError[]): Out<S> {
  if (!schema) return undefined as Out<S>;
  const result = schema.safeParse(value);
  if (!result.success) {
    errors.push(...issuesToFieldErrors(where, result.error));
    return undefined as Out<S>;
  }
  return result.data as Out<S>;
}

type Def = { type: string; innerType?: z.ZodType; options?: z.ZodType[]; in?: z.ZodType; shape?: Record<string, z.ZodType> };
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Whether a query field takes the parameter repeated (an array: `?status=a&status=b`). */
function takesList(schema: z.ZodType): boolean {
  const def = defOf(schema);
  switch (def.type) {
    case 'array':
      return true;
    case 'optional': case 'nullable': case 'default': case 'prefault': case 'readonly': case 'catch':
      return takesList(def.innerType!);
    case 'union':
      return def.options!.some(takesList);
    case 'pipe':
      return takesList(def.in!);
    default:
      return false;
  }
}

/**
 * The query, parsed. A parameter given more than once (`?limit=1&limit=2`) reaches the route as an
 * array; for a field that takes one value that is answered as such (`query.limit`: given 2 times),
 * not as the schema's type error on the array ("expected number, received NaN").
 */
function parseQuery<S extends z.ZodType>(schema: S, value: unknown, errors: FieldError[]): Out<S> {
  const own: FieldError[] = [];
  const parsed = parsePart(schema, value, 'query', own);
  const shape = defOf(schema).shape ?? {};
  const repeated = Object.entries(value as Record<string, unknown>)
    .filter(([name, v]) => Array.isArray(v) && Object.hasOwn(shape, name) && !takesList(shape[name]!))
    .map(([name, v]) => ({ name, count: (v as unknown[]).length }));
  for (const { name, count } of repeated) errors.push({ path: `query.${name}`, message: `Given ${count} times; this parameter takes one value: send it once` });
  const about = (e: FieldError, name: string) => e.path === `query.${name}` || e.path.startsWith(`query.${name}.`);
  errors.push(...own.filter((e) => !repeated.some(({ name }) => about(e, name))));
  return parsed;
}

export function defineRoute<P extends Schema, Q extends Schema, B extends Schema>(spec: RouteSpec<P, Q, B>): RouteSpec {
  return spec as unknown as RouteSpec;
}

export function registerRoute(app: FastifyInstance, registry: RouteRegistry, spec: RouteSpec): void {
  registry.push(spec);
  app.route({
    method: spec.method,
    url: spec.url,
    // `rateLimit: false` is @fastify/rate-limit's route-level exemption.
    config: { public: spec.public === true, ...(spec.probe ? { rateLimit: false } : {}) },
    handler: async (request, reply) => {
      const errors: FieldError[] = [];
      const params = parsePart(spec.params, request.params ?? {}, 'params', errors);
      // A route without a query schema accepts no query parameters at all (strict, like bodies).
      const query = parseQuery(spec.query ?? NO_QUERY, request.query ?? {}, errors);
      let body: unknown;
      if (!spec.body) {
        const raw = request.body;
        const empty = raw === undefined || raw === null || (typeof raw === 'object' && !Array.isArray(raw) && Object.keys(raw).length === 0);
        if (!empty) errors.push({ path: 'body', message: `${spec.method} ${spec.url} takes no body` });
      } else {
        const raw = request.body === undefined && spec.bodyOptional ? {} : request.body;
        if (raw === undefined) errors.push({ path: 'body', message: `A JSON body is required: ${spec.method} ${spec.url} has required fields, and the request has no body` });
        else body = parsePart(spec.body, raw, 'body', errors);
      }
      if (errors.length) {
        throw new ApiProblem(400, 'LIMIT_VALIDATION', `Invalid request: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
      }
      const principal = request.principal;
      if (!principal && !spec.public) throw new ApiProblem(401, 'LIMIT_UNAUTHORIZED', 'Authentication required');
      let result: unknown;
      try {
        result = await spec.handler({
          params, query, body: body as never, principal: principal ?? { tenant: '', actor: 'anonymous' }, request, reply,
        } as RouteInput<never, never, never>);
      } catch (error) {
        // A service error names its field in the service's terms, or only the id it could not find:
        // answer with the request field (body.sessionId, params.id, query.cursor, body.source.nodes.3).
        if (isLimitError(error)) setErrorFields(error, locateFields(error.message, error.details, { params: request.params, query: request.query, body: request.body }, spec.fields));
        throw error;
      }
      if (!reply.sent) reply.code(reply.statusCode !== 200 ? reply.statusCode : (spec.status ?? 200));
      return result;
    },
  });
}

/**
 * Rejects bodies that JSON allows but the rest of the system cannot hold: nesting deeper than
 * `maxDepth` (recursive serialisers and hashers would overflow the stack), NUL characters and
 * lone surrogates in strings (PostgreSQL's jsonb refuses both). Iterative, so a hostile body
 * cannot overflow this check either.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);

export function checkJsonShape(value: unknown, maxDepth: number): FieldError | undefined {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 0, path: 'body' }];
  while (stack.length) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { path, message: 'Strings must not contain NUL (\\u0000) characters' };
      if (!wellFormed(v)) return { path, message: 'Strings must be well-formed Unicode (no lone surrogates)' };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) return { path, message: `JSON nested deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], depth: depth + 1, path: `${path}.${i}` });
    } else {
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\u0000') || !wellFormed(k)) return { path: `${path}.${k}`, message: 'Keys must be well-formed Unicode without NUL' };
        stack.push({ v: child, depth: depth + 1, path: `${path}.${k}` });
      }
    }
  }
  return undefined;
}

import type { z } from 'zod';

export interface FormattedIssue {
  /** `plugins.storage-sqlite.path` */
  path: string;
  message: string;
  /** `limit.config.ts › plugins.storage-sqlite.path: Expected string` */
  text: string;
  /**
   * Environment variables that set another option the message names (a check of two options,
   * `venvPath and createVenv … exclude each other`, with venvPath from LIMIT_PYTHON_VENV): the
   * line is the file's, and the variable is one more place to correct.
   */
  variables?: string[];
}

/**
 * Renders zod issues the way users read them: the file, the dotted path of the field and zod's
 * message. When a value came from an environment variable, the variable is named too.
 * `source` may be a function of the issue's full path (prefix included), for a config whose fields
 * came from several files (presets).
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  source: string | ((path: readonly (string | number)[]) => string),
  prefix: readonly (string | number)[] = [],
  envSources: Record<string, string> = {},
  /** The schema the issues come from: an unknown key close to one of its object's keys gets "did you mean". */
  schema?: z.core.$ZodType,
): FormattedIssue[] {
  const sourceOf = typeof source === 'function' ? source : () => source;
  return issues.flatMap(matchedBranch).flatMap((issue) => {
    const segments = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    const fromEnv = issue.path.length > 0 ? envSources[String(issue.path[0])] : undefined;
    if (issue.code === 'unrecognized_keys') {
      const known = schema ? objectKeysAt(schema, issue.path) : undefined;
      // Unknown keys of one object may come from different files: one line per file.
      const byFile = new Map<string, string[]>();
      for (const key of issue.keys) byFile.set(sourceOf([...segments, key]), [...(byFile.get(sourceOf([...segments, key])) ?? []), key]);
      return [...byFile].map(([file, keys]) => line(file, segments, unrecognizedKeys(keys, known)));
    }
    const known = schema ? [...(objectKeysAt(schema, []) ?? []), ...(objectKeysAt(schema, issue.path.slice(0, -1)) ?? [])] : [];
    const text = sentenceCase(describeIssue(issue), [...known, ...Object.keys(envSources)]);
    // Other options the message names that a variable set (a check across options reports at one of them).
    const others = Object.entries(envSources).filter(([option, variable]) => variable !== fromEnv && option !== String(issue.path[0]) && namesOption(text, option));
    const message = text + (fromEnv ? ` (from environment variable ${fromEnv})` : '') + others.map(([option, variable]) => ` (${option} from environment variable ${variable})`).join('');
    // A value from a variable is the variable's to correct, not the file's (a built-in preset, say).
    const formatted = line(fromEnv ?? sourceOf(segments), segments, message);
    return [others.length ? { ...formatted, variables: [...new Set(others.map(([, variable]) => variable))] } : formatted];
  });
}

/** Whether `message` names the option `option` as a word of its own (`venvPath and createVenv …`, not `venvPathname`). */
function namesOption(message: string, option: string): boolean {
  return new RegExp(`(?<![\\w.$-])${option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w$-])`).test(message);
}

/** `Unrecognized keys: "storag" (did you mean 'storage'?), "colour"`: zod's words, with a near miss of a known key named. */
function unrecognizedKeys(keys: readonly string[], known: readonly string[] | undefined): string {
  const described = keys.map((key) => {
    const near = known ? nearestName(key, known.filter((k) => !keys.includes(k))) : undefined;
    return `${JSON.stringify(key)}${near === undefined ? '' : ` (did you mean '${near}'?)`}`;
  });
  return `Unrecognized key${keys.length === 1 ? '' : 's'}: ${described.join(', ')}`;
}

/**
 * The one of `candidates` that `value` most likely misspells, for a "did you mean": the same but for
 * case and surrounding whitespace (`SQLite`, `loglevel`), else the single closest by edit distance
 * when it is small for the name's length (one edit up to 5 characters, two beyond; none for 3 or
 * fewer). Undefined when nothing is that close, or two candidates are equally close. Shared by every
 * "did you mean" (unknown config keys and plugin options, storage backend names).
 */
export function nearestName(value: string, candidates: readonly string[]): string | undefined {
  const wanted = value.trim().toLowerCase();
  const same = candidates.filter((c) => c.toLowerCase() === wanted);
  if (same.length > 0) return same.length === 1 ? same[0] : undefined;
  const limit = wanted.length <= 3 ? 0 : wanted.length <= 5 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  let tie = false;
  for (const candidate of candidates) {
    const d = editDistance(wanted, candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance, tie] = [candidate, d, false];
    else if (d === bestDistance) tie = true;
  }
  return tie ? undefined : best;
}

/** Levenshtein distance, with a swap of two neighbouring characters counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The keys of the object schema at `path` inside `schema` (through optional, default, pipe and the
 * like, records, arrays, and the branches of a union), or undefined when there is none.
 */
function objectKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] | undefined {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const inner = (def.innerType ?? (def.type === 'pipe' ? def.in : undefined)) as z.core.$ZodType | undefined;
  if (inner) return objectKeysAt(inner, path);
  if (def.type === 'union') {
    for (const option of def.options as z.core.$ZodType[]) {
      const keys = objectKeysAt(option, path);
      if (keys) return keys;
    }
    return undefined;
  }
  const shape = def.type === 'object' ? (def.shape as Record<string, z.core.$ZodType>) : undefined;
  if (path.length === 0) return shape ? Object.keys(shape) : undefined;
  const [head, ...rest] = path;
  if (shape) return typeof head === 'string' && Object.hasOwn(shape, head) ? objectKeysAt(shape[head]!, rest) : undefined;
  if (def.type === 'record') return objectKeysAt(def.valueType as z.core.$ZodType, rest);
  if (def.type === 'array') return objectKeysAt(def.element as z.core.$ZodType, rest);
  return undefined;
}

/** zod's message for a union that failed every branch, when its schema gives none. */
const ZOD_UNION_MESSAGE = 'Invalid input';

/**
 * A union that failed every branch, where one branch took the value's type and failed only inside it
 * (`rateLimit: { max: 1.5 }` against `false | { max, timeWindow }`): that branch's issues, at their
 * own paths (`rateLimit.max`), rather than zod's bare "Invalid input" at the union's path. A union
 * whose schema gives its own message ("Expected a number or a list of numbers") keeps it: its author
 * chose what to say.
 */
function matchedBranch(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || !('errors' in issue) || issue.message !== ZOD_UNION_MESSAGE) return [issue];
  const inside = issue.errors.filter((branch) => branch.length > 0 && branch.every((i) => i.path.length > 0));
  if (inside.length !== 1) return [issue];
  return inside[0]!.map((i) => ({ ...i, path: [...issue.path, ...i.path] })).flatMap(matchedBranch);
}

function line(source: string, segments: readonly (string | number)[], message: string): FormattedIssue {
  const path = formatPath(segments);
  return { path, message, text: `${source} › ${path}: ${message}` };
}

/**
 * How a line's origin (the text before ` › `) is named in a message, or (`forFix`) in a fix: a file as it is, `config` (a config
 * given in code), an environment variable (`DATABASE_URL`), or the variable that selected a storage
 * backend without an entry in the file (`STORAGE_BACKEND=postgres`).
 */
export function describeOrigin(origin: string, forFix = false): string {
  if (origin === 'config') return 'the config';
  if (/^[A-Z_][A-Z0-9_]*$/.test(origin)) return `the environment variable ${origin}${forFix ? ' (change or unset it)' : ''}`;
  if (/^[A-Z_][A-Z0-9_]*=/.test(origin) && forFix) return `the config's plugins entry of the backend ${origin} selects (or its environment variables)`;
  return origin;
}

/** The origins of formatted lines, each once, in order. */
export function originsOf(issues: readonly { text: string }[]): string[] {
  return [...new Set(issues.map((i) => i.text.slice(0, Math.max(0, i.text.indexOf(' › ')))))].filter(Boolean);
}

/**
 * `plugins.storage-sqlite.path`; a key that is not a plain name (a plugin entry written as a path,
 * `./greeter`) is quoted the way it is written in code: `plugins['./greeter'].greeting`.
 */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number' || /^[A-Za-z0-9_$-]+$/.test(segment)) out += `${out ? '.' : ''}${segment}`;
    else out += `[${quote(segment)}]`;
  }
  return out || '(root)';
}

function quote(key: string): string {
  return `'${key.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * zod's message, except for a union that failed every branch, where zod says only "Invalid input":
 * there the branches' expectations are listed (`Expected boolean or one of "true"|"false"`).
 */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_union' || issue.message !== 'Invalid input' || !('errors' in issue)) return issue.message;
  const expected: string[] = [];
  let received: string | undefined;
  for (const branch of issue.errors) {
    const only = branch.length === 1 ? branch[0]! : undefined;
    if (!only || only.path.length > 0) return issue.message;
    if (only.code === 'invalid_type') {
      expected.push(String(only.expected));
      received ??= /received (.+)$/.exec(only.message)?.[1];
    } else if (only.code === 'invalid_value') {
      expected.push(`one of ${only.values.map((v) => JSON.stringify(v)).join('|')}`);
    } else {
      return issue.message;
    }
  }
  return `Expected ${expected.join(' or ')}${received ? `, received ${received}` : ''}`;
}

/**
 * The message with a capital first letter — zod 4 says "Invalid input: expected string, received
 * number"; users expect "Expected string, received number" — unless it starts with an option's
 * name, which keeps its case (`venvPath and createVenv …`, `worker.heartbeatMs must be …`): a
 * dotted or camelCase word, or a key of the object it is about (`options`).
 */
function sentenceCase(message: string, options: readonly string[] = []): string {
  const m = /^Invalid (?:input|option): (.*)$/s.exec(message);
  const text = m ? m[1]! : message;
  const word = /^[A-Za-z_$][\w$]*(?:\.[\w$]+)*/.exec(text)?.[0] ?? '';
  if (word.includes('.') || /[a-z0-9_$][A-Z]/.test(word) || options.includes(word)) return text;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

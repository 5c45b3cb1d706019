import type { z } from 'zod';

export interface FormattedIssue {
  /** `plugins.storage-sqlite.path` */
  path: string;
  message: string;
  /** `limit.config.ts › plugins.storage-sqlite.path: Expected string` */
  text: string;
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
): FormattedIssue[] {
  const sourceOf = typeof source === 'function' ? source : () => source;
  return issues.flatMap(matchedBranch).flatMap((issue) => {
    const segments = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    const fromEnv = issue.path.length > 0 ? envSources[String(issue.path[0])] : undefined;
    // Unknown keys of one object may come from different files: one line per file.
    if (issue.code === 'unrecognized_keys' && typeof source === 'function') {
      const byFile = new Map<string, string[]>();
      for (const key of issue.keys) byFile.set(sourceOf([...segments, key]), [...(byFile.get(sourceOf([...segments, key])) ?? []), key]);
      return [...byFile].map(([file, keys]) =>
        line(file, segments, `Unrecognized key${keys.length === 1 ? '' : 's'}: ${keys.map((k) => JSON.stringify(k)).join(', ')}`),
      );
    }
    const message = sentenceCase(describeIssue(issue)) + (fromEnv ? ` (from environment variable ${fromEnv})` : '');
    // A value from a variable is the variable's to correct, not the file's (a built-in preset, say).
    return [line(fromEnv ?? sourceOf(segments), segments, message)];
  });
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

function sentenceCase(message: string): string {
  // zod 4 says "Invalid input: expected string, received number"; users expect "Expected string, received number".
  const m = /^Invalid (?:input|option): (.*)$/.exec(message);
  const text = m ? m[1]! : message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

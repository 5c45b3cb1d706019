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
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  source: string,
  prefix: readonly (string | number)[] = [],
  envSources: Record<string, string> = {},
): FormattedIssue[] {
  return issues.map((issue) => {
    const segments = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    const path = segments.join('.') || '(root)';
    const fromEnv = issue.path.length > 0 ? envSources[String(issue.path[0])] : undefined;
    const message = sentenceCase(issue.message) + (fromEnv ? ` (from environment variable ${fromEnv})` : '');
    return { path, message, text: `${source} › ${path}: ${message}` };
  });
}

function sentenceCase(message: string): string {
  // zod 4 says "Invalid input: expected string, received number"; users expect "Expected string, received number".
  const m = /^Invalid (?:input|option): (.*)$/.exec(message);
  const text = m ? m[1]! : message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Checks a Python interpreter that a benchmark's option names (`--python`) before the benchmark runs:
 * the value itself (not empty or padded), that the interpreter starts, and that it imports the
 * modules the benchmark needs — each failure a LimitError naming the option, what is wrong and how
 * to install what is missing. Not a benchmark: `limit bench` skips files whose names start with "_".
 */
import { spawnSync } from 'node:child_process';
import { LimitError, parseTextOption, unpaddedText } from 'limit-graph';

/** A module the benchmark imports, and the pip package that provides it. */
export interface PythonModule {
  module: string;
  pip: string;
}

/** What the interpreter said about itself. */
export interface PythonCheck {
  /** `sys.version`'s first word, e.g. 3.11.2. */
  version: string;
}

const CHECK_SCRIPT = `
import importlib, json, sys
missing = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as e:
        missing.append({'module': name, 'error': '%s: %s' % (type(e).__name__, e)})
print(json.dumps({'version': sys.version.split()[0], 'missing': missing}))
`;

const CHECK_TIMEOUT_MS = 60_000;

// Within one process `limit bench` checks the options of every benchmark first, then run() checks its own again.
const checked = new Map<string, PythonCheck>();

/** The value of an interpreter option, as runner-python's `python` option takes it: a name on PATH or a path, not empty, not padded. */
export function pythonOption(option: string, value: string): string {
  return parseTextOption(option, value, unpaddedText('an interpreter name or path'));
}

/**
 * Runs `python` once to see that it is a Python interpreter that imports `modules`; a LimitError
 * (LIMIT_VALIDATION, `details.field`: `option`) otherwise. `purpose` ends the sentence that says
 * what is missing (`: the rd benchmark times POT with it`).
 */
export function checkPython(option: string, python: string, modules: readonly PythonModule[] = [], purpose = ''): PythonCheck {
  const key = JSON.stringify([python, modules.map((m) => m.module)]);
  const known = checked.get(key);
  if (known) return known;
  const named = `${option} ${python}`;
  const details = { field: option, value: python };
  const need = modules.length ? ` that has ${modules.map((m) => m.pip).join(' and ')} installed` : '';
  const pass = `Pass ${option} with a Python 3 interpreter${need} (a name on PATH or a path)`;
  const r = spawnSync(python, ['-c', CHECK_SCRIPT, ...modules.map((m) => m.module)], { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? (python.includes('/') ? 'no such file' : 'no such program on PATH')
      : code === 'EACCES' ? 'cannot be run (EACCES: not an executable file, or a folder)'
        : code === 'ETIMEDOUT' ? `did not answer within ${CHECK_TIMEOUT_MS / 1000} s`
          : `cannot be run (${code ?? r.error.message})`;
    throw new LimitError('LIMIT_VALIDATION', `${named}: ${why}`, { details, cause: r.error, fix: `${pass}.` });
  }
  let said: { version?: unknown; missing?: unknown } | undefined;
  try {
    said = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as typeof said;
  } catch {
    said = undefined;
  }
  if (r.status !== 0 || typeof said?.version !== 'string' || !Array.isArray(said.missing)) {
    const last = r.stderr.trim().split('\n').at(-1);
    throw new LimitError('LIMIT_VALIDATION', `${named} is not a working Python interpreter: it ${r.status === null ? `was killed (${r.signal})` : `exited with ${r.status}`}${last ? ` (${last})` : ''}`, {
      details: { ...details, status: r.status, stderr: r.stderr.slice(-2000) },
      fix: `${pass}.`,
    });
  }
  const missing = said.missing as { module: string; error: string }[];
  if (missing.length) {
    const absent = modules.filter((m) => missing.some((x) => x.module === m.module));
    const pips = [...new Set(absent.map((m) => m.pip))];
    const what = (m: PythonModule): string => {
      const error = missing.find((x) => x.module === m.module)!.error;
      // Not found, or installed but failing to import (a broken install): the error then says which.
      const notes = [m.pip !== m.module ? `pip package ${m.pip}` : '', error.startsWith('ModuleNotFoundError') ? '' : error].filter(Boolean);
      return notes.length ? `${m.module} (${notes.join('; ')})` : m.module;
    };
    throw new LimitError('LIMIT_VALIDATION', `${named} (Python ${said.version}) cannot import ${absent.map(what).join(', ')}${purpose ? `: ${purpose}` : ''}`, {
      details: { ...details, version: said.version, missing },
      fix: `Install ${pips.join(' and ')} for that interpreter (${python} -m pip install ${pips.join(' ')}), or ${pass.charAt(0).toLowerCase()}${pass.slice(1)}.`,
    });
  }
  const result = { version: said.version };
  checked.set(key, result);
  return result;
}

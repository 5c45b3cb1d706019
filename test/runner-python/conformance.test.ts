import { existsSync } from 'node:fs';
import { runnerConformance } from 'limit-graph/testing';
import { pythonRuntime } from './helpers.ts';

// A system interpreter other uids can read, so the per-session uid sandbox is exercised too.
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const tasks = {
  hello: () => ({ input: 'print("hello from python")' }),
  helloExpect: 'hello from python',
  slow: () => ({ input: 'import time\nwhile True:\n    time.sleep(0.01)' }),
  echo: (token: string) => ({ input: `print(${JSON.stringify(token)})` }),
  memory: {
    store: (token: string) => ({ input: `remembered = ${JSON.stringify(token)}` }),
    recall: () => ({ input: `print(globals().get("remembered", "nothing stored"))` }),
  },
  failing: () => ({ input: 'raise ValueError("conformance failure")' }),
};

for (const warm of [true, false]) {
  runnerConformance(`runner-python (warm: ${warm})`, async () => {
    const f = await pythonRuntime({ python: PYTHON, warm });
    return { runner: f.runner, close: f.close };
  }, {
    tasks,
    // Cold executions keep no globals between tasks, so only warm sessions have memory.
    supports: { sessionMemory: warm },
  });
}

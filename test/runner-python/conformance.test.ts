import { runnerConformance } from 'limit-graph/testing';
import { PYTHON, PYTHON_TASKS as tasks, pythonRuntime } from './helpers.ts';

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

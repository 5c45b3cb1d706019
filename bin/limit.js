#!/usr/bin/env node
// Runs the CLI from the TypeScript sources when they are present (a checkout), else from dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// tsx's compile cache would keep a world-readable compiled copy of limit.config.ts (secrets
// included) in <tmpdir>/tsx-<uid>; tsx reads this once, when it is loaded: set before it is.
process.env.TSX_DISABLE_CACHE = '1';

const source = new URL('../kernel/cli/main.ts', import.meta.url);
let runProcess;
if (existsSync(fileURLToPath(source))) {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
  ({ runProcess } = await import(source.href));
} else {
  ({ runProcess } = await import(new URL('../dist/kernel/cli/main.js', import.meta.url).href));
}
// Signals, a closed stdout and the exit code: see kernel/cli/interrupt.ts.
await runProcess(process.argv);

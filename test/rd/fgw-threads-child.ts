/**
 * Child process of fgw-threads.test.ts: a runtime with rd-fgw computes one distortion in a worker
 * thread, then (argv[2] = 'close') closes the runtime, or ('leave') does not. Either way the process
 * must end on its own: no worker thread may keep it alive. Prints the distortion's value.
 */
import { createRuntime } from 'limit-graph';

const g = (f: number[]) => ({ nodes: f.map((x, i) => ({ id: `n${i}`, features: [x] })), edges: f.slice(1).map((_, i) => ({ source: `n${i}`, target: `n${i + 1}` })) });
const runtime = await createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-fgw': { poolSize: 1 } } } });
const { value } = await runtime.resolve('rd:fgw').distortionAsync(g([0, 1, 2]), g([0, 1, 3]));
if (process.argv[2] === 'close') await runtime.close();
console.log(JSON.stringify({ value }));

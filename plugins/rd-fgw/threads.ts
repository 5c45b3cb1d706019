/**
 * `distortionAsync`'s worker threads: a WorkerPool (pool.ts) of threads running worker.ts.
 *
 * The thread's entry is found next to this module: `worker.js` in the compiled package (dist/), or
 * `worker.ts` when running from the TypeScript sources (tsx, vitest, `limit` in a checkout). A new
 * thread does not inherit the loader of the thread that starts it, so from source the thread first
 * registers tsx with the package's tsconfig.json (whose `paths` map `limit-graph` to kernel/index.ts,
 * exactly as on the main thread) and then imports worker.ts.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type AttributedGraph, LimitError, distortionAborted } from 'limit-graph';
import { type FgwDistortion, withPlan } from './distortion.ts';
import type { RdFgwComputeOptions } from './options.ts';
import { type PoolStats, WorkerPool } from './pool.ts';
import { type FgwReply, type FgwRequest, decodeError, unpackPlan } from './wire.ts';

const PLUGIN = 'rd-fgw';
const HERE = import.meta.url;

/** Starts one rd-fgw worker thread, from dist/ (worker.js) or from the TypeScript sources (worker.ts through tsx). */
export function spawnFgwWorker(): Worker {
  if (!HERE.endsWith('.ts')) return new Worker(new URL('./worker.js', HERE));
  const tsx = import.meta.resolve('tsx/esm/api');
  const tsconfig = fileURLToPath(new URL('../../tsconfig.json', HERE));
  const entry = new URL('./worker.ts', HERE).href;
  // A failure to load is an unhandled rejection in the thread: its 'error' event, which the pool reports.
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register({ tsconfig: ${JSON.stringify(tsconfig)} }); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true });
}

/** A pool of rd-fgw worker threads computing `distortion` results. */
export class FgwPool {
  readonly #pool: WorkerPool;

  /** `size` threads at most, `maxQueued` computations waiting at most; `spawn` starts one (tests replace it). */
  constructor(size: number, maxQueued: number, spawn: () => Worker = spawnFgwWorker) {
    this.#pool = new WorkerPool({
      size,
      maxQueued,
      spawn,
      busy: () =>
        new LimitError('LIMIT_RD_BUSY', `rd-fgw: ${size} distortion${size === 1 ? ' is' : 's are'} being computed and ${maxQueued} more wait (maxQueued); this one is refused`, {
          plugin: PLUGIN, details: { poolSize: size, maxQueued },
          fix: 'Retry later, or raise plugins[\'rd-fgw\'].poolSize (threads) or maxQueued.',
        }),
      crashed: (error) =>
        new LimitError('LIMIT_INTERNAL', `rd-fgw: the worker thread computing the distortion stopped: ${error instanceof Error ? error.message : String(error)}`, {
          plugin: PLUGIN,
          cause: error,
          fix: 'Retry: the next computation starts a new worker thread. If it recurs, the graphs may need more memory than a worker has (ERR_WORKER_OUT_OF_MEMORY) — use smaller graphs.',
        }),
      aborted: (signal) => distortionAborted(signal, PLUGIN),
      closed: () => new LimitError('LIMIT_RUNTIME_CLOSED', 'rd-fgw: the runtime was closed; its worker threads are stopped', { plugin: PLUGIN }),
    });
  }

  get stats(): PoolStats {
    return this.#pool.stats;
  }

  /** The synchronous `distortion`'s result, computed in a worker thread. */
  async distortion(source: AttributedGraph, target: AttributedGraph, options: RdFgwComputeOptions, signal?: AbortSignal): Promise<FgwDistortion> {
    const request: FgwRequest = { source, target, options };
    let reply: FgwReply;
    try {
      reply = (await this.#pool.run(request as unknown as Record<string, unknown>, signal ? { signal } : {})) as FgwReply;
    } catch (error) {
      // Graphs holding functions or symbols cannot travel to a thread (the synchronous call ignores such extras).
      if ((error as { name?: unknown } | null)?.name !== 'DataCloneError') throw error;
      throw new LimitError('LIMIT_RD_INVALID_INPUT', `source, target: the graphs cannot be copied to a worker thread (${(error as Error).message})`, {
        plugin: PLUGIN,
        cause: error,
        details: { field: 'source' },
        fix: 'Give graphs as plain data (ids, features, weights, edges), or call the synchronous distortion.',
      });
    }
    if (!reply.ok) throw decodeError(reply.error);
    const { plan, ...summary } = reply.result;
    return withPlan(summary, unpackPlan(plan));
  }

  /** Terminates every thread; queued and running computations reject with LIMIT_RUNTIME_CLOSED. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}

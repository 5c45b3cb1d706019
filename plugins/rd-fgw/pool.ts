/**
 * A small pool of worker threads, one job per worker at a time (FGW solves are CPU-bound: more jobs
 * than threads would only share the same cores). Written here rather than taken from a library
 * (piscina): what rd-fgw needs is ~200 lines — lazy start, a FIFO queue, abort, crash replacement,
 * unref'd idle threads, close — and with a library it would still need the TypeScript-source
 * bootstrap of threads.ts and the LimitError round trip of wire.ts.
 *
 * - Threads start at first use, up to `size`, and are kept for the next job.
 * - An idle thread is unref'd: it never keeps the process alive; a busy one is ref'd, so a process
 *   waiting only for a result does not exit under it.
 * - A thread that dies (an uncaught error, an exit, out of memory) rejects its job with
 *   `options.crashed(error)` and is dropped; the next job starts a new one.
 * - Aborting a queued job removes it; aborting a running one terminates its thread (a synchronous
 *   solve cannot be interrupted otherwise) and rejects with `options.aborted(signal)`.
 * - `close()` rejects what is queued or running with `options.closed()` and terminates every thread.
 */
import type { TransferListItem, Worker } from 'node:worker_threads';

/** What a worker posts back: the `id` of the job it answers, and anything else. */
export interface PoolReply {
  id: number;
}

export interface WorkerPoolOptions {
  /** Most threads at once. */
  size: number;
  /** Most jobs waiting for a thread; one more is refused with `busy()` (default: no limit). */
  maxQueued?: number;
  /** The error a job is refused with when `maxQueued` jobs already wait. */
  busy?(): Error;
  /** Starts one thread. It receives `{ id, ...request }` and must post one `{ id, … }` reply per job. */
  spawn(): Worker;
  /** The error a job rejects with when its thread died (or could not start). */
  crashed(error: unknown): Error;
  /** The error a job rejects with when its signal aborted it. */
  aborted(signal: AbortSignal): Error;
  /** The error of a job queued, running or submitted when the pool is closed. */
  closed(): Error;
}

interface Job {
  id: number;
  message: Record<string, unknown>;
  transfer: readonly TransferListItem[];
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  resolve(reply: PoolReply): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

export interface PoolStats {
  /** Threads alive. */
  threads: number;
  /** Jobs running. */
  running: number;
  /** Jobs waiting for a thread. */
  queued: number;
}

export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots = new Set<Slot>();
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`WorkerPool size must be an integer ≥ 1, got ${options.size}`);
    this.#options = options;
  }

  get stats(): PoolStats {
    let running = 0;
    for (const slot of this.#slots) if (slot.job) running++;
    return { threads: this.#slots.size, running, queued: this.#queue.length };
  }

  /**
   * Runs one job: posts `{ id, ...message }` (moving `transfer`) to a free thread, or queues it.
   * Resolves with the thread's reply to that id.
   */
  run(message: Record<string, unknown>, options: { transfer?: readonly TransferListItem[]; signal?: AbortSignal } = {}): Promise<PoolReply> {
    if (this.#closed) return Promise.reject(this.#options.closed());
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(this.#options.aborted(signal));
    const { maxQueued, busy } = this.#options;
    // Full only when every thread is busy too: a job that a free (or startable) thread takes never waits.
    if (maxQueued !== undefined && this.#queue.length >= maxQueued && this.stats.running >= this.#options.size) {
      return Promise.reject(busy ? busy() : new Error(`WorkerPool: ${this.#queue.length} jobs already wait (maxQueued ${maxQueued})`));
    }
    return new Promise<PoolReply>((resolve, reject) => {
      const job: Job = { id: this.#nextId++, message, transfer: options.transfer ?? [], signal, onAbort: undefined, resolve, reject };
      if (signal) {
        job.onAbort = () => this.#abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.#queue.push(job);
      this.#pump();
    });
  }

  /** Rejects every queued and running job and terminates every thread; later jobs are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) this.#settle(job, undefined, this.#options.closed());
    const ending: Promise<unknown>[] = [];
    for (const slot of [...this.#slots]) {
      this.#slots.delete(slot);
      if (slot.job) this.#settle(slot.job, undefined, this.#options.closed());
      slot.job = undefined;
      ending.push(slot.worker.terminate().catch(() => undefined));
    }
    await Promise.all(ending);
  }

  #pump(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      let slot: Slot | undefined;
      for (const s of this.#slots) {
        if (!s.job) {
          slot = s;
          break;
        }
      }
      if (!slot) {
        if (this.#slots.size >= this.#options.size) return;
        const job = this.#queue[0]!;
        try {
          slot = this.#start();
        } catch (error) {
          this.#queue.shift();
          this.#settle(job, undefined, this.#options.crashed(error));
          continue;
        }
      }
      const job = this.#queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      try {
        slot.worker.postMessage({ ...job.message, id: job.id }, job.transfer);
      } catch (error) {
        // An uncloneable message: the thread is fine, the job is not.
        slot.job = undefined;
        slot.worker.unref();
        this.#settle(job, undefined, error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  #start(): Slot {
    const worker = this.#options.spawn();
    const slot: Slot = { worker, job: undefined };
    this.#slots.add(slot);
    worker.on('message', (reply: PoolReply) => {
      const job = slot.job;
      if (!job || reply?.id !== job.id) return;
      slot.job = undefined;
      worker.unref();
      this.#settle(job, reply);
      this.#pump();
    });
    // 'error' (an uncaught exception, a failed start, out of memory) is followed by 'exit'.
    let failure: unknown;
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => {
      if (!this.#slots.delete(slot)) return; // terminated on purpose (abort, close)
      const job = slot.job;
      slot.job = undefined;
      if (job) this.#settle(job, undefined, this.#options.crashed(failure ?? new Error(`the worker thread exited with code ${code}`)));
      this.#pump();
    });
    return slot;
  }

  #abort(job: Job): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
    } else {
      const slot = [...this.#slots].find((s) => s.job === job);
      if (!slot) return; // already settled
      this.#slots.delete(slot);
      slot.job = undefined;
      void slot.worker.terminate().catch(() => undefined);
    }
    this.#settle(job, undefined, this.#options.aborted(job.signal!));
    this.#pump();
  }

  #settle(job: Job, reply: PoolReply | undefined, error?: Error): void {
    if (job.onAbort) job.signal!.removeEventListener('abort', job.onAbort);
    job.onAbort = undefined;
    if (error) job.reject(error);
    else job.resolve(reply!);
  }
}

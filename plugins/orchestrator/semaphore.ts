import { LimitError } from 'limit-graph';

/**
 * A counting semaphore: the session's maxConcurrency bound on runs in flight. Waiters are served
 * first in, first out; a waiter whose signal aborts leaves the queue without taking a slot.
 */
export class Semaphore {
  #free: number;
  readonly #queue: { grant: () => void; reject: (e: unknown) => void }[] = [];

  constructor(readonly size: number) {
    this.#free = size;
  }

  get inUse(): number {
    return this.size - this.#free;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw abortReason(signal);
    if (this.#free > 0) {
      this.#free--;
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = () => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
    return this.#releaser();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      // The slot passes straight to the next waiter, so #free only grows when nobody waits.
      if (next) next.grant();
      else this.#free++;
    };
  }
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new LimitError('LIMIT_RUNNER_ABORTED', 'Execution was aborted');
}

import { LimitError, isLimitError } from 'limit-graph';

/**
 * A counting semaphore: the session's maxConcurrency bound on runs in flight. Waiters are served
 * first in, first out; a waiter whose signal aborts leaves the queue without taking a slot.
 */
export class Semaphore {
  #free: number;
  readonly #queue: { grant: () => void; reject: (e: unknown) => void }[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  /** Slots no run holds. */
  get free(): number {
    return this.#free;
  }

  /**
   * A slot, once free. `onSlot` is called in the same synchronous step in which the slot is taken
   * (at once, or in the release that hands it over), before the returned promise settles: a count of
   * the runs still waiting for one (the orchestrator's maxWaitingRuns) is never a turn behind.
   */
  async acquire(signal?: AbortSignal, onSlot?: () => void): Promise<() => void> {
    if (signal?.aborted) throw abortReason(signal);
    if (this.#free > 0) {
      this.#free--;
      onSlot?.();
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          onSlot?.();
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

/**
 * Why `signal` aborted, as the error a run records: its reason when that is a LimitError (the
 * backstop's LIMIT_RUNNER_TIMEOUT, `cancel()`'s or first-success's LIMIT_RUNNER_ABORTED, a session
 * close), else LIMIT_RUNNER_ABORTED with the reason's message — a caller's `controller.abort()` or
 * `abort(new Error(…))` is a cancellation, not a runner failure. `what` was aborted (its message's subject).
 */
export function abortReason(signal: AbortSignal, what = 'Execution'): LimitError {
  const reason: unknown = signal.reason;
  if (isLimitError(reason)) return reason;
  const why = abortMessage(signal);
  return new LimitError('LIMIT_RUNNER_ABORTED', `${what} was aborted${why ? `: ${why}` : ''}`, { cause: reason });
}

/** The message of an aborted signal's reason ('' for none). */
export function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
}

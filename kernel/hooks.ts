/**
 * The one catalogue of hooks. The kernel creates it, freezes it and hands the same object to every
 * plugin; plugins tap with their own name (`hooks.afterRun.tapPromise('my-plugin', fn)`), which is
 * how a failing tap is traced back to its plugin.
 */
import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook } from 'tapable';
import type { Hook } from 'tapable';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { LimitError, isLimitError, toLimitError } from './errors.ts';
import { withPluginTimeout } from './timeout.ts';
import type { Finding, Flag, MergeRequest, MergeVeto, RunRequest, Trace } from './model/index.ts';
import type { ResolvedConfig } from './config/schema.ts';
import type { SessionHandle } from './container.ts';
import type { Runtime } from './runtime.ts';

/** What `cliCommands` taps receive: the commander program and a way to reach the booted runtime. */
export interface CommandRegistry {
  program: Command;
  /** Boots the runtime (once) and returns it; call it inside a command's action. */
  runtime(): Promise<Runtime>;
  /** Writes one JSON document to stdout (the `--json` contract). */
  printJson(value: unknown): void;
  /** Writes human-readable text to stdout. */
  print(text: string): void;
  /** Writes text to stderr (a task's own stderr, notes beside the output); a newline is added when missing. */
  printStderr(text: string): void;
  /**
   * Aborted when the command must stop: the user interrupted it (SIGINT/SIGTERM) or stdout's reader
   * went away. A command passes it to what it runs (`orchestrator.run({ signal })`) and cleans up in
   * `finally`; the CLI then closes the runtime and exits 130/143 (0 for EPIPE).
   */
  readonly signal: AbortSignal;
  /**
   * For a service that runs until it is stopped (`serve`, `worker`): resolves with the signal's name
   * once SIGINT/SIGTERM arrives. The stop is then the command's normal end, not an interruption:
   * once the command has shut down and returned, the CLI exits 0.
   */
  untilStopped(): Promise<string>;
}

/**
 * What `governInput`/`governOutput` taps get as their third argument from the governance service's
 * evaluation. `signal` is the evaluation's cancellation (GovernanceCallOptions.signal: a run's
 * cancel, a recorded trace's or merge's caller, a CLI interrupt); the governance plugin gives one
 * that never aborts when the caller gave none. A tap that waits on something (a model, a service)
 * passes it on, so a cancelled evaluation does not keep it working; the evaluation ends with the
 * signal's reason once the tap answers or rejects. The context is absent only when another caller of
 * the hook (a custom governance service) gives none: read it as `context?.signal`.
 */
export interface GovernHookContext {
  readonly signal: AbortSignal;
  /**
   * The evaluation is of a bare text (`GovernanceService.check`, `limit governance check|eval`),
   * not of a trace: the trace the tap gets is a stand-in (id, tenant and runner `check`), the same
   * for every check, as rules are told by `ctx.bareText`. A tap that keeps state across traces, or
   * looks the trace up in storage, leaves it out. Absent for a trace's evaluation.
   */
  readonly bareText?: true;
}

/**
 * A new set of every hook, bare: no error wrapping, ordering, time limits or freezing. The
 * runtime builds its `hooks` from it; plugins tap `ctx.hooks`, never a catalogue of their own.
 */
export function createHookCatalogue() {
  return {
    /**
     * The validated config, once plugins are set up; deep-frozen (each plain object and array in it is
     * a frozen copy; functions, class instances and objects with methods are kept as given).
     */
    configResolved: new SyncHook<[ResolvedConfig]>(['config'], 'configResolved'),
    /** Async start-up: open pools, load models. Runs in plugin order. */
    boot: new AsyncSeriesHook<[]>([], 'boot'),
    /**
     * The first step of runtime.close(), before any session closes; runs in reverse plugin order. A
     * plugin stops taking new work and waits for what it has in flight (api-http its requests, the
     * orchestrator its runs, recorded traces and merges); those that depend on it drain before it, so
     * their work in flight can still use it.
     */
    drain: new AsyncSeriesHook<[]>([], 'drain'),
    /** Runs in reverse plugin order, after every session is closed. */
    shutdown: new AsyncSeriesHook<[]>([], 'shutdown'),
    sessionOpened: new AsyncSeriesHook<[SessionHandle]>(['session'], 'sessionOpened'),
    sessionClosed: new AsyncSeriesHook<[SessionHandle]>(['session'], 'sessionClosed'),
    /** May rewrite the request (e.g. add metadata, pick a runner). */
    beforeRun: new AsyncSeriesWaterfallHook<[RunRequest]>(['request'], 'beforeRun'),
    /** Taps add findings about the task before it runs (`context`: GovernHookContext); the governance service gives each the findings so far frozen and keeps any it leaves out. */
    governInput: new AsyncSeriesWaterfallHook<[Finding[], Trace, GovernHookContext?]>(['findings', 'trace', 'context'], 'governInput'),
    /** Taps add findings about the output after it ran (`context`: GovernHookContext); as governInput, a tap cannot remove or lower a finding. */
    governOutput: new AsyncSeriesWaterfallHook<[Finding[], Trace, GovernHookContext?]>(['findings', 'trace', 'context'], 'governOutput'),
    afterRun: new AsyncSeriesHook<[Trace]>(['trace'], 'afterRun'),
    traceFlagged: new AsyncSeriesHook<[Trace, Flag]>(['trace', 'flag'], 'traceFlagged'),
    /** A tap returns a veto to refuse the merge. */
    beforeMerge: new AsyncSeriesBailHook<[MergeRequest], MergeVeto | undefined>(['request'], 'beforeMerge'),
    cliCommands: new SyncHook<[CommandRegistry]>(['registry'], 'cliCommands'),
    httpRoutes: new AsyncSeriesHook<[FastifyInstance]>(['app'], 'httpRoutes'),
  };
}

/**
 * The runtime's hooks, one frozen object shared by every plugin (`ctx.hooks`). Tap with the
 * plugin's name, `ctx.hooks.afterRun.tapPromise(ctx.name, fn)`, so a failing tap is reported
 * against its plugin and hook.
 */
export type LimitHooks = Readonly<ReturnType<typeof createHookCatalogue>>;
/** The name of a hook (`boot`, `afterRun`, …), as a LimitError from a tap names it. */
export type HookName = keyof LimitHooks;

interface HookOptions {
  /** Position of each plugin in load order; shutdown taps run in reverse of it. */
  order: (pluginName: string) => number;
  /** Per-tap time limit for boot and sessionOpened taps (ms). */
  bootTimeoutMs: (pluginName: string) => number;
  /** Per-tap time limit for drain, shutdown and sessionClosed taps (ms), asked each time a tap runs; none when left out. */
  closeTimeoutMs?: (pluginName: string) => number;
}

/**
 * Builds the frozen catalogue with error wrapping (and ordering/timeouts where they apply).
 *
 * On an async hook, a tap registered with plain `tap()` is made a promise tap: a function that
 * returns a promise (`hooks.boot.tap(name, async () => …)`) is awaited within the hook's time limit,
 * and its failure names the plugin and the hook, as with `tapPromise` — tapable itself would ignore
 * the promise (boot would end before it, its rejection would be unhandled, a teardown tap would have
 * no limit). A result that is not a promise is taken as it is, so undefined still passes a
 * waterfall's value on and does not bail. Taps of the SyncHooks (`configResolved`, `cliCommands`)
 * stay synchronous.
 */
export function createHooks(options: HookOptions): LimitHooks {
  const hooks = createHookCatalogue();
  const timeoutOf = (hook: HookName, plugin: string): number =>
    // sessionOpened sets up a session as boot sets up the runtime: a tap that never settles would hang openSession.
    // The per-request hooks (beforeRun, governInput, …) are not limited here: they run inside a run or merge,
    // whose caller cancels it, and a rule may wait on a model for longer than the setup limit.
    hook === 'boot' || hook === 'sessionOpened' ? options.bootTimeoutMs(plugin) : hook === 'drain' || hook === 'shutdown' || hook === 'sessionClosed' ? (options.closeTimeoutMs?.(plugin) ?? 0) : 0;
  for (const [hookName, hook] of Object.entries(hooks) as [HookName, Hook<unknown[], unknown>][]) {
    // tapable's SyncHook is a factory that sets `constructor` on the hook it makes (no prototype to test with instanceof).
    const isSyncHook = (hook as { constructor: unknown }).constructor === SyncHook;
    hook.intercept({
      register: (tap) => {
        const plugin = tap.name;
        const type = tap.type === 'sync' && !isSyncHook ? 'promise' : tap.type;
        // The limit is read each time the tap runs, not now: taps are registered during setup, before
        // setup returns the plugin's closeTimeoutMs.
        const wrapped = { ...tap, type, fn: wrapTap(type, tap.fn as AnyFn, plugin, hookName, () => timeoutOf(hookName, plugin)) };
        if (hookName === 'drain' || hookName === 'shutdown') wrapped.stage = -options.order(plugin);
        return wrapped;
      },
    });
  }
  return Object.freeze(hooks);
}

type AnyFn = (...args: unknown[]) => unknown;

/**
 * Runs every tap of a teardown hook (`drain`, `sessionClosed`, `shutdown`) in order, even when some fail —
 * tapable's own `promise()` stops at the first failure, which would skip the other plugins'
 * cleanup. Returns the failures (LimitErrors naming their plugin), in tap order.
 */
export async function runEveryTap<T extends unknown[]>(hook: AsyncSeriesHook<T>, ...args: T): Promise<LimitError[]> {
  const errors: LimitError[] = [];
  for (const tap of hook.taps) {
    const fn = tap.fn as AnyFn;
    try {
      if (tap.type === 'async') await new Promise<void>((resolve, reject) => fn(...args, (err?: unknown) => (err ? reject(err) : resolve())));
      else await fn(...args);
    } catch (error) {
      errors.push(isLimitError(error) ? error : toTapError(error, tap.name, hook.name ?? 'hook'));
    }
  }
  return errors;
}

function toTapError(error: unknown, plugin: string, hook: string): LimitError {
  // Deliberate codes (a veto, a validation error) are kept, and say where they came from.
  return toLimitError(error, 'LIMIT_HOOK_TAP_FAILED', { plugin, hook, message: (reason) => `Plugin "${plugin}" failed in hook "${hook}": ${reason}` });
}

/** `timeoutMs` is called each time the tap runs (0: no limit). */
function wrapTap(type: string, fn: AnyFn, plugin: string, hook: string, timeoutMs: () => number): AnyFn {
  switch (type) {
    case 'sync': // a SyncHook's tap (createHooks makes a plain tap of an async hook a promise tap)
      return (...args) => {
        try {
          return fn(...args);
        } catch (error) {
          throw toTapError(error, plugin, hook);
        }
      };
    case 'promise':
      return (...args) =>
        withPluginTimeout(Promise.resolve().then(() => fn(...args)), timeoutMs(), plugin, hook).catch((error: unknown) => {
          throw toTapError(error, plugin, hook);
        });
    default: // 'async': the last argument is a node-style callback
      return (...args) => {
        const callback = args.pop() as (err?: unknown, result?: unknown) => void;
        const limit = timeoutMs();
        if (!limit) {
          // No time limit (the per-request hooks): called through directly, no promise, no extra tick.
          try {
            fn(...args, (err: unknown, result: unknown) => callback(err ? toTapError(err, plugin, hook) : err, result));
          } catch (error) {
            callback(toTapError(error, plugin, hook));
          }
          return;
        }
        // Within the same time limit as a promise tap: a callback never called must not hang boot or close.
        // The callback runs outside the promise chain: what it throws is not turned into an unhandled rejection.
        const run = new Promise<unknown>((resolve, reject) => fn(...args, (err: unknown, result: unknown) => (err ? reject(err) : resolve(result))));
        withPluginTimeout(run, limit, plugin, hook).then(
          (result) => queueMicrotask(() => callback(undefined, result)),
          (error: unknown) => queueMicrotask(() => callback(toTapError(error, plugin, hook))),
        );
      };
  }
}

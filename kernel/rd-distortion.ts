/**
 * One way to ask any `rd:<name>` algorithm for a distortion: off the caller's thread when the
 * algorithm provides `distortionAsync`, else through its synchronous `distortion` (which then runs on
 * the caller's thread, as it always did). The orchestrator and the HTTP API call this, so a
 * third-party algorithm written against the synchronous contract keeps working unchanged.
 */
import type { AsyncDistortionOptions, AttributedGraph, DistortionResult, RdAlgorithm } from './contracts/rd.ts';
import { LimitError } from './errors.ts';

/** LIMIT_RD_ABORTED for a computation stopped by `signal`; the signal's reason is the cause. */
export function distortionAborted(signal: AbortSignal, plugin?: string): LimitError {
  return new LimitError('LIMIT_RD_ABORTED', 'The distortion computation was aborted by its caller', {
    ...(plugin !== undefined ? { plugin } : {}),
    cause: signal.reason,
  });
}

/**
 * The distortion between `source` and `target` by `algorithm`: `distortionAsync` when the algorithm
 * has one (the computation does not block this thread), else `distortion`. `options.signal` is
 * handed to `distortionAsync` only; a synchronous algorithm gets the other options unchanged and
 * cannot be stopped once started, so the signal is tested once, before it starts. Either way an
 * aborted signal rejects with LIMIT_RD_ABORTED, and a LimitError of the algorithm rejects as is.
 */
export async function measureDistortion(
  algorithm: RdAlgorithm,
  source: AttributedGraph,
  target: AttributedGraph,
  options?: AsyncDistortionOptions,
): Promise<DistortionResult> {
  const { signal, ...rest } = options ?? {};
  if (signal?.aborted) throw distortionAborted(signal);
  if (typeof algorithm.distortionAsync === 'function') return checkedResult(algorithm, await algorithm.distortionAsync(source, target, options));
  // Options are passed exactly as given (a strict algorithm refuses unknown keys, `signal` included).
  return checkedResult(algorithm, algorithm.distortion(source, target, options === undefined ? undefined : rest));
}

/**
 * A result whose `value` is not a finite number is a bug in the algorithm (the contract: a finite
 * value ≥ 0), refused as LIMIT_INTERNAL naming it — never answered as `"value": null` (JSON has no
 * NaN) or stored. A value a few ulps below 0 is the caller's to read (the orchestrator reads it as 0).
 */
function checkedResult(algorithm: RdAlgorithm, result: DistortionResult): DistortionResult {
  const value: unknown = (result as { value?: unknown } | null | undefined)?.value;
  if (typeof value === 'number' && Number.isFinite(value)) return result;
  throw new LimitError('LIMIT_INTERNAL', `rd:${algorithm.name} returned a distortion value that is not a finite number (${typeof value === 'number' ? String(value) : typeof value})`, {
    details: { key: `rd:${algorithm.name}`, value: String(value) },
    fix: `A bug in the distortion algorithm rd:${algorithm.name}: report it to its plugin's author, or pick another algorithm.`,
  });
}

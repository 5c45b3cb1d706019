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
  if (typeof algorithm.distortionAsync === 'function') return algorithm.distortionAsync(source, target, options);
  // Options are passed exactly as given (a strict algorithm refuses unknown keys, `signal` included).
  return algorithm.distortion(source, target, options === undefined ? undefined : rest);
}

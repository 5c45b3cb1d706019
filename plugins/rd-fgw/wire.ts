/**
 * What crosses between the event loop and rd-fgw's worker threads: the request, the result with its
 * sparse plan packed in one transferable Float64Array (moved, not copied, and rebuilt as [i, j, mass]
 * triples on arrival), and errors — a LimitError is rebuilt with the same code, message, details,
 * fix, plugin and hook, so an HTTP answer is the same problem document as from the synchronous call.
 */
import { type AttributedGraph, LimitError, isLimitError, type LimitErrorCode } from 'limit-graph';
import type { FgwDistortion } from './distortion.ts';
import type { RdFgwComputeOptions } from './options.ts';

export interface FgwRequest {
  source: AttributedGraph;
  target: AttributedGraph;
  options: RdFgwComputeOptions;
}

export type WireResult = Omit<FgwDistortion, 'plan'> & {
  /** Sparse plan as i0, j0, mass0, i1, j1, mass1, … (row-major, like `sparsePlan`). */
  plan: Float64Array;
};

export type WireError =
  | { limit: true; code: string; message: string; fix: string; plugin?: string; hook?: string; details?: Record<string, unknown>; stack?: string }
  | { limit: false; name: string; message: string; stack?: string };

export type FgwReply = { id: number; ok: true; result: WireResult } | { id: number; ok: false; error: WireError };

/** The entries of a dense n1 × n2 plan above `threshold`, packed as (i, j, mass) triples. */
export function packPlan(plan: ArrayLike<number>, n1: number, n2: number, threshold: number): Float64Array {
  let count = 0;
  const size = n1 * n2;
  for (let k = 0; k < size; k++) if (plan[k]! > threshold) count++;
  const out = new Float64Array(3 * count);
  let o = 0;
  for (let i = 0; i < n1; i++) {
    for (let j = 0; j < n2; j++) {
      const v = plan[i * n2 + j]!;
      if (v > threshold) {
        out[o++] = i;
        out[o++] = j;
        out[o++] = v;
      }
    }
  }
  return out;
}

export function unpackPlan(packed: Float64Array): [number, number, number][] {
  const out: [number, number, number][] = new Array(packed.length / 3);
  for (let k = 0, o = 0; o < packed.length; k++, o += 3) out[k] = [packed[o]!, packed[o + 1]!, packed[o + 2]!];
  return out;
}

export function encodeError(error: unknown): WireError {
  if (isLimitError(error)) {
    return {
      limit: true, code: error.code, message: error.message, fix: error.fix,
      ...(error.plugin !== undefined ? { plugin: error.plugin } : {}),
      ...(error.hook !== undefined ? { hook: error.hook } : {}),
      ...(error.details !== undefined ? { details: error.details } : {}),
      ...(error.stack !== undefined ? { stack: error.stack } : {}),
    };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return { limit: false, name: e.name, message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}) };
}

/** The same error for a reply that could not be cloned as is (details that are not plain data). */
export function plainError(wire: WireError): WireError {
  if (!wire.limit || wire.details === undefined) return wire;
  let details: Record<string, unknown> | undefined;
  try {
    details = JSON.parse(JSON.stringify(wire.details)) as Record<string, unknown>;
  } catch {
    details = undefined;
  }
  return { ...wire, ...(details ? { details } : { details: {} }) };
}

/** Rebuilds a worker's error on this thread; the worker's stack frames follow this thread's. */
export function decodeError(wire: WireError): Error {
  const error = wire.limit
    ? new LimitError(wire.code as LimitErrorCode, wire.message, {
        fix: wire.fix,
        ...(wire.plugin !== undefined ? { plugin: wire.plugin } : {}),
        ...(wire.hook !== undefined ? { hook: wire.hook } : {}),
        ...(wire.details !== undefined ? { details: wire.details } : {}),
      })
    : Object.assign(new Error(wire.message), { name: wire.name });
  const workerFrames = wire.stack?.split('\n').filter((line) => /^\s+at /.test(line));
  if (workerFrames?.length) error.stack = `${error.stack}\n    --- in an rd-fgw worker thread ---\n${workerFrames.join('\n')}`;
  return error;
}

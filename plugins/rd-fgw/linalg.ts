/**
 * Dense kernels on row-major Float64Array matrices. Products go to the WebAssembly SIMD kernel
 * (wasm-gemm.ts) when it is available; the scalar fallback is written for V8: dot products of
 * contiguous rows (A·Bᵀ form) with 2×2 register blocking, so each loaded value feeds two
 * multiply-adds and no loop writes to memory in its inner body.
 */
import { wasmMulABt } from './wasm-gemm.ts';

/** Products smaller than this many multiply-adds stay in JavaScript (copying would dominate). */
const WASM_MIN_WORK = 4096;

/** out (p×r) = A (p×q) · Bᵀ, where B is r×q. `out` must not alias A or B. */
export function mulABt(A: Float64Array, B: Float64Array, p: number, q: number, r: number, out: Float64Array): void {
  if (p * q * r >= WASM_MIN_WORK && wasmMulABt(A, B, p, q, r, out)) return;
  mulABtScalar(A, B, p, q, r, out);
}

/** The same product in plain JavaScript. */
export function mulABtScalar(A: Float64Array, B: Float64Array, p: number, q: number, r: number, out: Float64Array): void {
  let i = 0;
  for (; i + 1 < p; i += 2) {
    const a0 = i * q;
    const a1 = a0 + q;
    const o0 = i * r;
    const o1 = o0 + r;
    let j = 0;
    for (; j + 1 < r; j += 2) {
      const b0 = j * q;
      const b1 = b0 + q;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let k = 0; k < q; k++) {
        const x0 = A[a0 + k]!;
        const x1 = A[a1 + k]!;
        const y0 = B[b0 + k]!;
        const y1 = B[b1 + k]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      out[o0 + j] = s00;
      out[o0 + j + 1] = s01;
      out[o1 + j] = s10;
      out[o1 + j + 1] = s11;
    }
    if (j < r) {
      const b0 = j * q;
      let s0 = 0;
      let s1 = 0;
      for (let k = 0; k < q; k++) {
        const y = B[b0 + k]!;
        s0 += A[a0 + k]! * y;
        s1 += A[a1 + k]! * y;
      }
      out[o0 + j] = s0;
      out[o1 + j] = s1;
    }
  }
  if (i < p) {
    const a0 = i * q;
    const o0 = i * r;
    for (let j = 0; j < r; j++) {
      const b0 = j * q;
      let s = 0;
      for (let k = 0; k < q; k++) s += A[a0 + k]! * B[b0 + k]!;
      out[o0 + j] = s;
    }
  }
}

/** out (c×r) = Aᵀ, A being r×c. */
export function transpose(A: Float64Array, r: number, c: number, out: Float64Array): void {
  const B = 32;
  for (let i0 = 0; i0 < r; i0 += B) {
    const i1 = Math.min(r, i0 + B);
    for (let j0 = 0; j0 < c; j0 += B) {
      const j1 = Math.min(c, j0 + B);
      for (let i = i0; i < i1; i++) {
        const row = i * c;
        for (let j = j0; j < j1; j++) out[j * r + i] = A[row + j]!;
      }
    }
  }
}

/** Σ A ∘ B over the first `len` entries. */
export function frob(A: Float64Array, B: Float64Array, len = A.length): number {
  let s0 = 0;
  let s1 = 0;
  let k = 0;
  for (; k + 1 < len; k += 2) {
    s0 += A[k]! * B[k]!;
    s1 += A[k + 1]! * B[k + 1]!;
  }
  if (k < len) s0 += A[k]! * B[k]!;
  return s0 + s1;
}

/**
 * Both symmetry tests in one pass: `close` in the numpy.allclose(A, Aᵀ, atol) sense (rtol 1e-5),
 * `exact` bitwise. Walks 32×32 tiles so the transposed reads stay in cache; stops early once A is
 * not close.
 */
export function symmetryOf(A: Float64Array, n: number, atol: number): { close: boolean; exact: boolean } {
  const B = 32;
  let exact = true;
  for (let i0 = 0; i0 < n; i0 += B) {
    const i1 = Math.min(n, i0 + B);
    for (let j0 = i0; j0 < n; j0 += B) {
      const j1 = Math.min(n, j0 + B);
      for (let i = i0; i < i1; i++) {
        for (let j = Math.max(j0, i + 1); j < j1; j++) {
          const x = A[i * n + j]!;
          const y = A[j * n + i]!;
          if (x === y) continue;
          exact = false;
          if (Math.abs(x - y) > atol + 1e-5 * Math.abs(y) || Math.abs(y - x) > atol + 1e-5 * Math.abs(x)) {
            return { close: false, exact: false };
          }
        }
      }
    }
  }
  return { close: true, exact };
}

/**
 * C = A·Bᵀ in WebAssembly SIMD (f64x2), assembled with wasm-asm.ts — no toolchain, no binary
 * file in the repository. The FGW solvers spend most of their time in the O(n³) products
 * C1·T·C2ᵀ; V8 does not vectorise plain JavaScript loops, and this kernel runs several times
 * faster than the best scalar loop (≈ 13–15 GFLOP/s against ≈ 3 on the development machine).
 *
 * Kernel: a 4×2 block of C is accumulated in eight f64x2 registers while k advances two doubles
 * at a time (each row of A and B is loaded once per step), then each register's two lanes are
 * added. Operands are copied into the module's memory with rows zero-padded to an even length
 * and row counts rounded up (A to a multiple of 4, B to a multiple of 2), so the kernel has no
 * remainder loops. Lane 0 sums the even k, lane 1 the odd k: the summation order differs from the
 * scalar loop, so results agree to rounding, not bit for bit. (The entropic solver has its own
 * products on packed operands resident in its memory, wasm-entropic.ts.)
 */
import { FnBuilder, I32, V128, WA, type WasmMemory, assembleModule, op } from './wasm-asm.ts';

/**
 * gemm(aOff, bOff, cOff, pp, rp, strideBytes): C[i][j] = Σ_k A[i][k]·B[j][k] for i < pp
 * (multiple of 4), j < rp (multiple of 2), rows of A and B `strideBytes` apart (multiple of 16,
 * also the extent of k), C row-major with rp columns. Offsets in bytes.
 */
export function gemmFunction(): FnBuilder {
  const fn = new FnBuilder('gemm', [I32, I32, I32, I32, I32, I32]);
  const [aOff, bOff, cOff, pp, rp, stride] = [0, 1, 2, 3, 4, 5];
  const [i, j, k, cp] = [fn.local(I32), fn.local(I32), fn.local(I32), fn.local(I32)];
  const pa = [fn.local(I32), fn.local(I32), fn.local(I32), fn.local(I32)];
  const pb = [fn.local(I32), fn.local(I32)];
  const acc = Array.from({ length: 8 }, () => fn.local(V128));
  const y = [fn.local(V128), fn.local(V128)];
  const x = fn.local(V128);
  fn.loop(i, op.i32(0), op.get(pp), 4, () => {
    fn.emit(op.get(aOff), op.get(i), op.get(stride), op.i32Mul, op.i32Add, op.set(pa[0]!));
    for (let r = 1; r < 4; r++) fn.emit(op.get(pa[r - 1]!), op.get(stride), op.i32Add, op.set(pa[r]!));
    fn.loop(j, op.i32(0), op.get(rp), 2, () => {
      fn.emit(op.get(bOff), op.get(j), op.get(stride), op.i32Mul, op.i32Add, op.tee(pb[0]!), op.get(stride), op.i32Add, op.set(pb[1]!));
      for (const a of acc) fn.emit(op.v128Zero, op.set(a));
      fn.loop(k, op.i32(0), op.get(stride), 16, () => {
        for (let c = 0; c < 2; c++) fn.emit(op.get(pb[c]!), op.get(k), op.i32Add, op.v128Load(), op.set(y[c]!));
        for (let r = 0; r < 4; r++) {
          fn.emit(op.get(pa[r]!), op.get(k), op.i32Add, op.v128Load(), op.set(x));
          for (let c = 0; c < 2; c++) {
            const s = acc[r * 2 + c]!;
            fn.emit(op.get(s), op.get(x), op.get(y[c]!), op.f64x2Mul, op.f64x2Add, op.set(s));
          }
        }
      });
      for (let r = 0; r < 4; r++) {
        fn.emit(op.get(cOff), op.get(i), op.i32(r), op.i32Add, op.get(rp), op.i32Mul, op.get(j), op.i32Add, op.i32(8), op.i32Mul, op.i32Add, op.set(cp));
        for (let c = 0; c < 2; c++) {
          const s = acc[r * 2 + c]!;
          fn.emit(op.get(cp), op.get(s), op.f64x2Lane(0), op.get(s), op.f64x2Lane(1), op.f64Add, op.f64Store(c * 8));
        }
      }
    });
  });
  return fn;
}

interface Kernel {
  memory: WasmMemory;
  gemm: (aOff: number, bOff: number, cOff: number, pp: number, rp: number, strideBytes: number) => void;
}

function instantiate(): Kernel | null {
  try {
    if (!WA) return null;
    const bytes = assembleModule([gemmFunction()]);
    if (!WA.validate(bytes)) return null;
    const memory = new WA.Memory({ initial: 1 });
    const instance = new WA.Instance(new WA.Module(bytes), { env: { mem: memory } });
    const gemm = instance.exports.gemm as Kernel['gemm'];
    // Self-check on a small product before trusting the kernel.
    const f = new Float64Array(memory.buffer);
    f.fill(0, 0, 64);
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < 4; i++) f[i * 4 + k] = i + 1 + k;
      for (let j = 0; j < 2; j++) f[16 + j * 4 + k] = (j + 1) * (k + 1);
    }
    gemm(0, 128, 192, 4, 2, 32);
    const g = new Float64Array(memory.buffer);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 2; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += (i + 1 + k) * (j + 1) * (k + 1);
        if (g[24 + i * 2 + j] !== s) return null;
      }
    }
    return { memory, gemm };
  } catch {
    return null;
  }
}

let kernel: Kernel | null | undefined;

/** True when the SIMD kernel is available (WebAssembly with SIMD, self-check passed). */
export function wasmGemmAvailable(): boolean {
  if (kernel === undefined) kernel = instantiate();
  return kernel !== null;
}

/** out (p×r) = A (p×q) · Bᵀ (B is r×q). Returns false when the kernel is unavailable. */
export function wasmMulABt(A: Float64Array, B: Float64Array, p: number, q: number, r: number, out: Float64Array): boolean {
  if (!wasmGemmAvailable()) return false;
  const { memory, gemm } = kernel!;
  const pp = (p + 3) & ~3;
  const rp = (r + 1) & ~1;
  const qs = (q + 1) & ~1;
  const bOff = pp * qs;
  const cOff = bOff + rp * qs;
  const bytes = (cOff + pp * rp) * 8;
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  const f = new Float64Array(memory.buffer);
  if (qs === q) {
    f.set(A.subarray(0, p * q), 0);
    f.set(B.subarray(0, r * q), bOff);
  } else {
    for (let i = 0; i < p; i++) {
      f.set(A.subarray(i * q, i * q + q), i * qs);
      f[i * qs + q] = 0;
    }
    for (let j = 0; j < r; j++) {
      f.set(B.subarray(j * q, j * q + q), bOff + j * qs);
      f[bOff + j * qs + q] = 0;
    }
  }
  f.fill(0, p * qs, bOff);
  f.fill(0, bOff + r * qs, cOff);
  gemm(0, bOff * 8, cOff * 8, pp, rp, qs * 8);
  if (rp === r) {
    out.set(f.subarray(cOff, cOff + p * r));
  } else {
    for (let i = 0; i < p; i++) out.set(f.subarray(cOff + i * rp, cOff + i * rp + r), i * r);
  }
  return true;
}

/**
 * The O(n1·n2) passes of the stabilised Sinkhorn solver in WebAssembly SIMD (f64x2): the kernel
 * rebuild K̃ = exp((f_i + g_j − C_ij)/ε) with a vectorised exponential, the fused scaling sweep
 * (u = a/(K̃·v) and K̃ᵀ·u in one pass over each pair of rows) and the plan diag(u)·K̃·diag(v).
 * In JavaScript these cost one `Math.exp` (≈ 9 ns) per entry per rebuild and scalar mat-vecs.
 *
 * Each `SinkhornKernel` owns a memory sized once for its n1×n2 problem (it never grows, so the
 * Float64Array views handed out stay valid): K̃ with rows padded to an even length n2p, the cost C
 * (row stride n2, read two at a time even across a row end — the padded lane has g = −∞ and comes
 * out as exp(−∞) = 0), the potentials and scalings.
 *
 * The exponential: x clamped to [−746, 710] (beyond, exp is 0 or ∞ anyway; NaN stays NaN);
 * k = round(x·log2 e) by the 1.5·2^52 trick (k is then also in the low bits of the sum);
 * r = x − k·ln2 in two parts (Cody–Waite, k·ln2_hi exact); exp(r) by its Taylor polynomial of
 * degree 13 on |r| ≤ 0.347 (truncation < 1e-17); the result scaled by 2^k as two powers of two
 * 2^⌊k/2⌋·2^(k−⌊k/2⌋) so results down to the subnormal range are right. Relative error within
 * 5e-16 of Math.exp (tested), ≈ 4 ns per value here against ≈ 9 for Math.exp.
 */
import { F64, FnBuilder, I32, V128, WA, type WasmMemory, assembleModule, op } from './wasm-asm.ts';

const LOG2E = Math.LOG2E;
const MAGIC = 6755399441055744; // 1.5·2^52
const LN2_HI = 6.93147180369123816490e-1; // 0x3fe62e42fee00000: k·LN2_HI exact for |k| < 2^20
const LN2_LO = 1.90821492927058770002e-10;
const DEGREE = 13;
const COEF: number[] = [];
{
  let f = 1;
  for (let k = 0; k <= DEGREE; k++) {
    if (k > 0) f *= k;
    COEF.push(1 / f);
  }
}
const MAGIC_BITS = new BigInt64Array(Float64Array.of(MAGIC).buffer)[0]!;

/**
 * Constants live in a table at the start of each kernel's memory, 16 bytes each (both lanes): V8
 * materialises a v128.const inside the loop through a general register every time (three
 * instructions), where a load from memory is one.
 */
const constTable: (number | bigint)[] = [];
const CONST_BYTES = 512;
function cst(v: number | bigint): number[] {
  let k = constTable.indexOf(v);
  if (k < 0) k = constTable.push(v) - 1;
  if ((k + 1) * 16 > CONST_BYTES) throw new Error('wasm-sinkhorn: constant table full');
  return [...op.i32(0), ...op.v128Load(k * 16)];
}

function writeConstants(buf: ArrayBuffer): void {
  const dv = new DataView(buf);
  constTable.forEach((v, k) => {
    for (const lane of [0, 8]) {
      if (typeof v === 'bigint') dv.setBigInt64(k * 16 + lane, v, true);
      else dv.setFloat64(k * 16 + lane, v, true);
    }
  });
}

/**
 * exp of the f64x2 in local `x` (clobbered), left on the stack; t, kd, r, p, m are v128 scratch.
 * The polynomial is evaluated by Estrin's scheme (pairs c_2k + c_2k+1·r combined with r², r⁴):
 * Horner's chain of 26 dependent operations would leave the loop bound by latency.
 */
function emitExp(fn: FnBuilder, x: number, t: number, kd: number, r: number, p: number, m: number): void {
  // pmax/pmin (x first) are single instructions; NaN in x still comes out as NaN.
  fn.emit(op.get(x), cst(-746), op.f64x2Pmax, cst(710), op.f64x2Pmin, op.set(x));
  fn.emit(op.get(x), cst(LOG2E), op.f64x2Mul, cst(MAGIC), op.f64x2Add, op.tee(t));
  fn.emit(cst(MAGIC), op.f64x2Sub, op.set(kd));
  fn.emit(op.get(x), op.get(kd), cst(LN2_HI), op.f64x2Mul, op.f64x2Sub);
  fn.emit(op.get(kd), cst(LN2_LO), op.f64x2Mul, op.f64x2Sub, op.set(r));
  // p = (q0 + q1·r⁴) + r⁸·(q2 + q3·r⁴), q_k = a_2k + a_2k+1·r², a_k = c_2k + c_2k+1·r (degree 13).
  const r2 = kd; // kd is not needed any more
  const r4 = p;
  fn.emit(op.get(r), op.get(r), op.f64x2Mul, op.set(r2), op.get(r2), op.get(r2), op.f64x2Mul, op.set(r4));
  const pair = (k: number): number[] => [...op.get(r), ...cst(COEF[2 * k + 1]!), ...op.f64x2Mul, ...cst(COEF[2 * k]!), ...op.f64x2Add];
  const quad = (k: number): number[] => [...pair(2 * k), ...pair(2 * k + 1), ...op.get(r2), ...op.f64x2Mul, ...op.f64x2Add];
  fn.emit(quad(2), pair(6), op.get(r4), op.f64x2Mul, op.f64x2Add, op.get(r4), op.get(r4), op.f64x2Mul, op.f64x2Mul);
  fn.emit(quad(0), quad(1), op.get(r4), op.f64x2Mul, op.f64x2Add, op.f64x2Add, op.set(p));
  // m = k (the low bits of t); 2^⌊k/2⌋ and 2^(k−⌊k/2⌋) built in the exponent field.
  fn.emit(op.get(t), cst(MAGIC_BITS), op.i64x2Sub, op.set(m));
  fn.emit(op.get(p), op.get(m), op.i32(1), op.i64x2ShrS, op.tee(t), cst(1023n), op.i64x2Add, op.i32(52), op.i64x2Shl, op.f64x2Mul);
  fn.emit(op.get(m), op.get(t), op.i64x2Sub, cst(1023n), op.i64x2Add, op.i32(52), op.i64x2Shl, op.f64x2Mul);
}

function assemble(): Uint8Array {
  const fns: FnBuilder[] = [];

  // vexp(src, dst, count): dst[j] = exp(src[j]), count even; byte offsets.
  {
    const fn = new FnBuilder('vexp', [I32, I32, I32]);
    const [src, dst, count] = [0, 1, 2];
    const jb = fn.local(I32);
    const [x, t, kd, r, p, m] = [fn.local(V128), fn.local(V128), fn.local(V128), fn.local(V128), fn.local(V128), fn.local(V128)];
    fn.loop(jb, op.i32(0), [...op.get(count), ...op.i32(8), ...op.i32Mul], 16, () => {
      fn.emit(op.get(src), op.get(jb), op.i32Add, op.v128Load(), op.set(x));
      fn.emit(op.get(dst), op.get(jb), op.i32Add);
      emitExp(fn, x, t, kd, r, p, m);
      fn.emit(op.v128Store());
    });
    fns.push(fn);
  }

  // rebuild(K, C, f, g, ktu, n1, n2, n2p, inv): K̃[i][j] = exp((f_i + g_j − C_ij)·inv), ktu = K̃ᵀ·1.
  {
    const fn = new FnBuilder('rebuild', [I32, I32, I32, I32, I32, I32, I32, I32, F64]);
    const [K, C, f, g, ktu, n1, n2, n2p, inv] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const [i, jb, kRow, cRow, rowBytes, addr] = [fn.local(I32), fn.local(I32), fn.local(I32), fn.local(I32), fn.local(I32), fn.local(I32)];
    const [fi, vinv, x, t, kd, r, p, m, e] = Array.from({ length: 9 }, () => fn.local(V128)) as [number, number, number, number, number, number, number, number, number];
    fn.emit(op.get(n2p), op.i32(8), op.i32Mul, op.set(rowBytes));
    fn.emit(op.get(inv), op.f64x2Splat, op.set(vinv));
    fn.loop(jb, op.i32(0), op.get(rowBytes), 16, () => {
      fn.emit(op.get(ktu), op.get(jb), op.i32Add, op.v128Zero, op.v128Store());
    });
    fn.loop(i, op.i32(0), op.get(n1), 1, () => {
      fn.emit(op.get(f), op.get(i), op.i32(8), op.i32Mul, op.i32Add, op.f64Load(), op.f64x2Splat, op.set(fi));
      fn.emit(op.get(K), op.get(i), op.get(rowBytes), op.i32Mul, op.i32Add, op.set(kRow));
      fn.emit(op.get(C), op.get(i), op.get(n2), op.i32Mul, op.i32(8), op.i32Mul, op.i32Add, op.set(cRow));
      fn.loop(jb, op.i32(0), op.get(rowBytes), 16, () => {
        fn.emit(op.get(fi), op.get(g), op.get(jb), op.i32Add, op.v128Load(), op.f64x2Add);
        fn.emit(op.get(cRow), op.get(jb), op.i32Add, op.v128Load(), op.f64x2Sub, op.get(vinv), op.f64x2Mul, op.set(x));
        emitExp(fn, x, t, kd, r, p, m);
        fn.emit(op.set(e));
        fn.emit(op.get(kRow), op.get(jb), op.i32Add, op.get(e), op.v128Store());
        fn.emit(op.get(ktu), op.get(jb), op.i32Add, op.tee(addr), op.get(addr), op.v128Load(), op.get(e), op.f64x2Add, op.v128Store());
      });
    });
    fns.push(fn);
  }

  // scaleRows(K, v, u, a, ktu, n1, n2p) → 1, or 0 when some u_i = a_i/(K̃·v)_i is not in (0, ∞).
  // Two rows at a time (the last one alone when n1 is odd), two accumulators per row; then
  // ktu = K̃ᵀ·u accumulated over the same rows while they are in cache.
  {
    const fn = new FnBuilder('scaleRows', [I32, I32, I32, I32, I32, I32, I32], [I32]);
    const [K, v, u, a, ktu, n1, n2p] = [0, 1, 2, 3, 4, 5, 6];
    const [i, jb, r0, r1, rowBytes, quadEnd, addr] = Array.from({ length: 7 }, () => fn.local(I32)) as [number, number, number, number, number, number, number];
    const [s0, s1, t0, t1, vj, vk, U0, U1] = Array.from({ length: 8 }, () => fn.local(V128)) as [number, number, number, number, number, number, number, number];
    const [u0, u1] = [fn.local(F64), fn.local(F64)];
    fn.emit(op.get(n2p), op.i32(8), op.i32Mul, op.set(rowBytes));
    // Bytes covered by the four-wide loop; an even n2p leaves at most one pair.
    fn.emit(op.get(rowBytes), op.i32(-32), op.i32And, op.set(quadEnd));
    fn.loop(jb, op.i32(0), op.get(rowBytes), 16, () => {
      fn.emit(op.get(ktu), op.get(jb), op.i32Add, op.v128Zero, op.v128Store());
    });
    const inRange = (x: number): number[] => [...op.get(x), ...op.f64(0), ...op.f64Gt, ...op.get(x), ...op.f64(Infinity), ...op.f64Lt, ...op.i32And];
    const acc = (s: number, row: number, off: number, vec: number): number[] => [
      ...op.get(s), ...op.get(row), ...op.get(jb), ...op.i32Add, ...op.v128Load(off), ...op.get(vec), ...op.f64x2Mul, ...op.f64x2Add, ...op.set(s),
    ];
    const rowSum = (s: number, t: number): number[] => [
      ...op.get(s), ...op.get(t), ...op.f64x2Add, ...op.set(s),
      ...op.get(s), ...op.f64x2Lane(0), ...op.get(s), ...op.f64x2Lane(1), ...op.f64Add,
    ];
    const dots = (rows: number[], sums: number[][]): void => {
      for (const [s, t] of sums) fn.emit(op.v128Zero, op.set(s!), op.v128Zero, op.set(t!));
      fn.loop(jb, op.i32(0), op.get(quadEnd), 32, () => {
        fn.emit(op.get(v), op.get(jb), op.i32Add, op.v128Load(), op.set(vj));
        fn.emit(op.get(v), op.get(jb), op.i32Add, op.v128Load(16), op.set(vk));
        rows.forEach((row, k) => fn.emit(acc(sums[k]![0]!, row, 0, vj), acc(sums[k]![1]!, row, 16, vk)));
      });
      fn.when([...op.get(quadEnd), ...op.get(rowBytes), ...op.i32LtS], () => {
        fn.emit(op.get(quadEnd), op.set(jb));
        fn.emit(op.get(v), op.get(jb), op.i32Add, op.v128Load(), op.set(vj));
        rows.forEach((row, k) => fn.emit(acc(sums[k]![0]!, row, 0, vj)));
      });
    };
    const aAt = (off: number): number[] => [...op.get(a), ...op.get(i), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.f64Load(off)];
    const uStore = (off: number, x: number): number[] => [...op.get(u), ...op.get(i), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.get(x), ...op.f64Store(off)];
    fn.loop(i, op.i32(0), [...op.get(n1), ...op.i32(1), ...op.i32Sub], 2, () => {
      fn.emit(op.get(K), op.get(i), op.get(rowBytes), op.i32Mul, op.i32Add, op.tee(r0), op.get(rowBytes), op.i32Add, op.set(r1));
      dots([r0, r1], [[s0, t0], [s1, t1]]);
      fn.emit(aAt(0), rowSum(s0, t0), op.f64Div, op.set(u0));
      fn.emit(aAt(8), rowSum(s1, t1), op.f64Div, op.set(u1));
      fn.when([...inRange(u0), ...inRange(u1), ...op.i32And, ...op.i32Eqz], () => fn.emit(op.i32(0), op.ret));
      fn.emit(uStore(0, u0), uStore(8, u1));
      fn.emit(op.get(u0), op.f64x2Splat, op.set(U0), op.get(u1), op.f64x2Splat, op.set(U1));
      fn.loop(jb, op.i32(0), op.get(rowBytes), 16, () => {
        fn.emit(op.get(ktu), op.get(jb), op.i32Add, op.tee(addr), op.get(addr), op.v128Load());
        fn.emit(op.get(r0), op.get(jb), op.i32Add, op.v128Load(), op.get(U0), op.f64x2Mul, op.f64x2Add);
        fn.emit(op.get(r1), op.get(jb), op.i32Add, op.v128Load(), op.get(U1), op.f64x2Mul, op.f64x2Add, op.v128Store());
      });
    });
    // The loop left i = n1 − 1 exactly when n1 is odd: that row alone.
    fn.when([...op.get(i), ...op.get(n1), ...op.i32LtS], () => {
      fn.emit(op.get(K), op.get(i), op.get(rowBytes), op.i32Mul, op.i32Add, op.set(r0));
      dots([r0], [[s0, t0]]);
      fn.emit(aAt(0), rowSum(s0, t0), op.f64Div, op.set(u0));
      fn.when([...inRange(u0), ...op.i32Eqz], () => fn.emit(op.i32(0), op.ret));
      fn.emit(uStore(0, u0));
      fn.emit(op.get(u0), op.f64x2Splat, op.set(U0));
      fn.loop(jb, op.i32(0), op.get(rowBytes), 16, () => {
        fn.emit(op.get(ktu), op.get(jb), op.i32Add, op.tee(addr), op.get(addr), op.v128Load());
        fn.emit(op.get(r0), op.get(jb), op.i32Add, op.v128Load(), op.get(U0), op.f64x2Mul, op.f64x2Add, op.v128Store());
      });
    });
    fn.emit(op.i32(1));
    fns.push(fn);
  }

  // plan(K, u, v, out, n1, n2, n2p): out[i·n2 + j] = (u_i·K̃_ij)·v_j. Rows are written in order two
  // at a time, so for odd n2 the padded lane lands on the next row's first entry, which is then
  // overwritten (and on one slack entry after the last row).
  {
    const fn = new FnBuilder('plan', [I32, I32, I32, I32, I32, I32, I32]);
    const [K, u, v, out, n1, n2, n2p] = [0, 1, 2, 3, 4, 5, 6];
    const [i, jb, kRow, oRow, rowBytes] = Array.from({ length: 5 }, () => fn.local(I32)) as [number, number, number, number, number];
    const ui = fn.local(V128);
    fn.emit(op.get(n2p), op.i32(8), op.i32Mul, op.set(rowBytes));
    fn.loop(i, op.i32(0), op.get(n1), 1, () => {
      fn.emit(op.get(u), op.get(i), op.i32(8), op.i32Mul, op.i32Add, op.f64Load(), op.f64x2Splat, op.set(ui));
      fn.emit(op.get(K), op.get(i), op.get(rowBytes), op.i32Mul, op.i32Add, op.set(kRow));
      fn.emit(op.get(out), op.get(i), op.get(n2), op.i32Mul, op.i32(8), op.i32Mul, op.i32Add, op.set(oRow));
      fn.loop(jb, op.i32(0), op.get(rowBytes), 16, () => {
        fn.emit(op.get(oRow), op.get(jb), op.i32Add);
        fn.emit(op.get(ui), op.get(kRow), op.get(jb), op.i32Add, op.v128Load(), op.f64x2Mul);
        fn.emit(op.get(v), op.get(jb), op.i32Add, op.v128Load(), op.f64x2Mul, op.v128Store());
      });
    });
    fns.push(fn);
  }
  return assembleModule(fns);
}

interface Exports {
  vexp(src: number, dst: number, count: number): void;
  rebuild(K: number, C: number, f: number, g: number, ktu: number, n1: number, n2: number, n2p: number, inv: number): void;
  scaleRows(K: number, v: number, u: number, a: number, ktu: number, n1: number, n2p: number): number;
  plan(K: number, u: number, v: number, out: number, n1: number, n2: number, n2p: number): void;
}

let compiled: object | null | undefined;

function compile(): object | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  try {
    if (!WA) return null;
    const bytes = assemble();
    if (!WA.validate(bytes)) return null;
    compiled = new WA.Module(bytes);
  } catch {
    compiled = null;
  }
  return compiled;
}

const PAGE = 65536;

/**
 * The WebAssembly side of one LogSinkhorn solver of size n1×n2. The views are the solver's own
 * arrays (f, g, u, v, ktu have exactly n1 or n2 entries; their padding lies outside the views).
 */
export class SinkhornKernel {
  readonly n2p: number;
  /** Cost matrix, n1×n2 row-major: copy C here before `rebuild`. */
  readonly C: Float64Array;
  readonly K: Float64Array;
  readonly f: Float64Array;
  readonly g: Float64Array;
  readonly u: Float64Array;
  readonly v: Float64Array;
  readonly ktu: Float64Array;
  readonly a: Float64Array;
  /** Plan written by `plan`, n1×n2 row-major. */
  readonly out: Float64Array;
  private readonly x: Exports;
  private readonly off: { K: number; C: number; f: number; g: number; u: number; v: number; ktu: number; a: number; out: number };

  private constructor(
    readonly n1: number,
    readonly n2: number,
    module: object,
  ) {
    const n2p = (n2 + 1) & ~1;
    this.n2p = n2p;
    // Every region starts on 16 bytes; sizes in doubles, with one pair of slack where rows are
    // read or written two at a time past their end.
    let at = CONST_BYTES;
    const take = (doubles: number): number => {
      const o = at;
      at += ((doubles + 1) & ~1) * 8;
      return o;
    };
    const nn = n1 * n2;
    const off = {
      K: take(n1 * n2p),
      C: take(nn + 2),
      out: take(nn + 2),
      f: take(n1),
      g: take(n2p),
      u: take(n1 + 1),
      v: take(n2p),
      ktu: take(n2p),
      a: take(n1 + 1),
    };
    const memory: WasmMemory = new WA!.Memory({ initial: Math.max(1, Math.ceil(at / PAGE)) });
    const instance = new WA!.Instance(module, { env: { mem: memory } });
    this.x = instance.exports as unknown as Exports;
    this.off = off;
    const buf = memory.buffer;
    writeConstants(buf);
    const view = (o: number, len: number): Float64Array => new Float64Array(buf, o, len);
    this.K = view(off.K, n1 * n2p);
    this.C = view(off.C, nn);
    this.out = view(off.out, nn);
    this.f = view(off.f, n1);
    this.g = view(off.g, n2);
    this.u = view(off.u, n1);
    this.v = view(off.v, n2);
    this.ktu = view(off.ktu, n2);
    this.a = view(off.a, n1);
    // The padded column: g = −∞ makes its kernel entries exp(−∞) = 0; v = 0 there.
    if (n2p > n2) view(off.g + n2 * 8, 1)[0] = -Infinity;
  }

  /** A kernel for n1×n2, or null when WebAssembly SIMD is unavailable. */
  static create(n1: number, n2: number): SinkhornKernel | null {
    const module = compile();
    if (!module) return null;
    try {
      return new SinkhornKernel(n1, n2, module);
    } catch {
      return null;
    }
  }

  /** K̃ = exp((f_i + g_j − C_ij)/ε) and ktu = K̃ᵀ·1. */
  rebuild(eps: number): void {
    const o = this.off;
    this.x.rebuild(o.K, o.C, o.f, o.g, o.ktu, this.n1, this.n2, this.n2p, 1 / eps);
  }

  /** u = a/(K̃·v) and ktu = K̃ᵀ·u; false (u partly written) when some u_i is not in (0, ∞). */
  scaleRows(): boolean {
    const o = this.off;
    return this.x.scaleRows(o.K, o.v, o.u, o.a, o.ktu, this.n1, this.n2p) === 1;
  }

  /** out = diag(u)·K̃·diag(v). */
  plan(): void {
    const o = this.off;
    this.x.plan(o.K, o.u, o.v, o.out, this.n1, this.n2, this.n2p);
  }
}

/**
 * exp of each entry with the kernel's vectorised exponential (for tests). Null without
 * WebAssembly SIMD.
 */
export function wasmExp(xs: Float64Array): Float64Array | null {
  const module = compile();
  if (!module) return null;
  const n = xs.length;
  const np = (n + 1) & ~1;
  const memory: WasmMemory = new WA!.Memory({ initial: Math.ceil((CONST_BYTES + np * 16) / PAGE) });
  const x = new WA!.Instance(module, { env: { mem: memory } }).exports as unknown as Exports;
  writeConstants(memory.buffer);
  const f = new Float64Array(memory.buffer, CONST_BYTES, 2 * np);
  f.set(xs, 0);
  x.vexp(CONST_BYTES, CONST_BYTES + np * 8, np);
  return f.slice(np, np + n);
}

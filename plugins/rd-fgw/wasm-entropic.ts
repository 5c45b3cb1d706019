/**
 * The entropic FGW solver's inner work in WebAssembly SIMD (f64x2), with every operand resident in
 * one memory per problem size: the products C1·T·C2ᵀ (the GEMM of wasm-gemm.ts, without copying
 * operands in and out), the linearised cost A0 + a·P, the step ‖T − Tprev‖, and the three
 * O(n1·n2) passes of the stabilised Sinkhorn solver — kernel rebuild K̃ = exp((f_i + g_j − C_ij)/ε)
 * with a vectorised exponential, the fused scaling sweep (u = a/(K̃·v) and K̃ᵀ·u in one pass over
 * each pair of rows) and the plan diag(u)·K̃·diag(v), written straight into T. In JavaScript the
 * rebuild costs one `Math.exp` (≈ 9 ns) per entry and the sweeps are scalar mat-vecs.
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

/**
 * Packed operands for the products. A left operand (R = 4) is stored as blocks of 4 rows; within
 * a block, for each k-step of two doubles, the four rows' pairs one after the other (64 bytes). A
 * right operand (R = 2) likewise in blocks of 2 rows (32 bytes per k-step). The product loop then
 * walks two pointers by constant steps and loads at constant offsets — no per-row address
 * arithmetic, which is what limited the row-major kernel (≈ 25% faster here).
 *
 * pack(src, dst, rows, R, stride): src row-major with `stride` doubles per row (even), `rows` a
 * multiple of R; byte offsets.
 */
function packFunction(): FnBuilder {
  const fn = new FnBuilder('pack', [I32, I32, I32, I32, I32]);
  const [src, dst, rows, R, stride] = [0, 1, 2, 3, 4];
  const [b, s, r, d, rowBytes] = Array.from({ length: 5 }, () => fn.local(I32)) as [number, number, number, number, number];
  fn.emit(op.get(stride), op.i32(8), op.i32Mul, op.set(rowBytes));
  fn.emit(op.get(dst), op.set(d));
  // Blocks of R rows (b advances by R at the end of each block; the loop's own step is 0).
  fn.loop(b, op.i32(0), op.get(rows), 0, () => {
    fn.loop(s, op.i32(0), op.get(rowBytes), 16, () => {
      fn.loop(r, op.i32(0), op.get(R), 1, () => {
        fn.emit(op.get(d), op.get(src), op.get(b), op.get(r), op.i32Add, op.get(rowBytes), op.i32Mul, op.i32Add, op.get(s), op.i32Add, op.v128Load(), op.v128Store());
        fn.emit(op.get(d), op.i32(16), op.i32Add, op.set(d));
      });
    });
    fn.emit(op.get(b), op.get(R), op.i32Add, op.set(b));
  });
  return fn;
}

/**
 * C = A·Bᵀ on packed operands: A with pp rows (multiple of 4), B with rp rows (multiple of 2),
 * ks k-steps of two doubles each. A 4×2 block of C is accumulated in eight f64x2 registers (lane 0
 * the even k, lane 1 the odd k), then each register's lanes are added.
 * `gemmRows(a, b, c, pp, rp, ks, ldc)` writes C row-major with ldc doubles per row;
 * `gemmPacked(a, b, c, pp, rp, ks, ldc)` writes C already packed as the right operand of a next
 * product whose k runs over C's columns (ldc = that product's k-steps = rp/2): the 4×2 block
 * (rows i..i+3, columns j, j+1) is two k-steps of two rows each, 32 bytes apiece.
 */
function gemmPackedFunction(name: string, packedOut: boolean): FnBuilder {
  const fn = new FnBuilder(name, [I32, I32, I32, I32, I32, I32, I32]);
  const [aP, bP, c, pp, rp, ks, ldc] = [0, 1, 2, 3, 4, 5, 6];
  const [ib, jb, pa, pb, end, cp, aBlock, aBase] = Array.from({ length: 8 }, () => fn.local(I32)) as [number, number, number, number, number, number, number, number];
  const acc = Array.from({ length: 8 }, () => fn.local(V128));
  const [y0, y1, x] = [fn.local(V128), fn.local(V128), fn.local(V128)];
  fn.emit(op.get(ks), op.i32(64), op.i32Mul, op.set(aBlock));
  fn.emit(op.get(aP), op.set(aBase));
  fn.loop(ib, op.i32(0), op.get(pp), 4, () => {
    fn.loop(jb, op.i32(0), op.get(rp), 2, () => {
      fn.emit(op.get(aBase), op.tee(pa), op.get(aBlock), op.i32Add, op.set(end));
      // Block jb/2 of B starts at (jb/2)·ks·32 = jb·ks·16 bytes.
      fn.emit(op.get(bP), op.get(jb), op.get(ks), op.i32Mul, op.i32(16), op.i32Mul, op.i32Add, op.set(pb));
      for (const a of acc) fn.emit(op.v128Zero, op.set(a));
      fn.emit([0x02, 0x40, 0x03, 0x40]);
      fn.emit(op.get(pb), op.v128Load(0), op.set(y0), op.get(pb), op.v128Load(16), op.set(y1));
      for (let r = 0; r < 4; r++) {
        fn.emit(op.get(pa), op.v128Load(16 * r), op.set(x));
        fn.emit(op.get(acc[2 * r]!), op.get(x), op.get(y0), op.f64x2Mul, op.f64x2Add, op.set(acc[2 * r]!));
        fn.emit(op.get(acc[2 * r + 1]!), op.get(x), op.get(y1), op.f64x2Mul, op.f64x2Add, op.set(acc[2 * r + 1]!));
      }
      fn.emit(op.get(pb), op.i32(32), op.i32Add, op.set(pb));
      fn.emit(op.get(pa), op.i32(64), op.i32Add, op.tee(pa), op.get(end), op.i32LtS, [0x0d, 0], [0x0b, 0x0b]);
      const sum = (a: number): number[] => [...op.get(a), ...op.f64x2Lane(0), ...op.get(a), ...op.f64x2Lane(1), ...op.f64Add];
      if (packedOut) {
        // Rows i, i+1 → block i/2, rows i+2, i+3 → block i/2 + 1; k-step j/2 in each.
        fn.emit(op.get(c), op.get(ib), op.i32(1), op.i32ShrU, op.get(ldc), op.i32Mul, op.get(jb), op.i32(1), op.i32ShrU, op.i32Add, op.i32(32), op.i32Mul, op.i32Add, op.set(cp));
        for (let r = 0; r < 4; r++) {
          if (r === 2) fn.emit(op.get(cp), op.get(ldc), op.i32(32), op.i32Mul, op.i32Add, op.set(cp));
          for (let cc = 0; cc < 2; cc++) fn.emit(op.get(cp), sum(acc[2 * r + cc]!), op.f64Store(((r & 1) * 2 + cc) * 8));
        }
      } else {
        for (let r = 0; r < 4; r++) {
          fn.emit(op.get(c), op.get(ib), op.i32(r), op.i32Add, op.get(ldc), op.i32Mul, op.get(jb), op.i32Add, op.i32(8), op.i32Mul, op.i32Add, op.set(cp));
          for (let cc = 0; cc < 2; cc++) fn.emit(op.get(cp), sum(acc[2 * r + cc]!), op.f64Store(cc * 8));
        }
      }
    });
    fn.emit(op.get(aBase), op.get(aBlock), op.i32Add, op.set(aBase));
  });
  return fn;
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

  // rebuild(K, C, f, g, ktu, n1, n2p, inv): K̃[i][j] = exp((f_i + g_j − C_ij)·inv), ktu = K̃ᵀ·1;
  // K̃ and C both have rows of n2p doubles.
  {
    const fn = new FnBuilder('rebuild', [I32, I32, I32, I32, I32, I32, I32, F64]);
    const [K, C, f, g, ktu, n1, n2p, inv] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [i, jb, kRow, cRow, rowBytes, addr] = Array.from({ length: 6 }, () => fn.local(I32)) as [number, number, number, number, number, number];
    const [fi, vinv, x, t, kd, r, p, m, e] = Array.from({ length: 9 }, () => fn.local(V128)) as [number, number, number, number, number, number, number, number, number];
    fn.emit(op.get(n2p), op.i32(8), op.i32Mul, op.set(rowBytes));
    fn.emit(op.get(inv), op.f64x2Splat, op.set(vinv));
    fn.loop(jb, op.i32(0), op.get(rowBytes), 16, () => {
      fn.emit(op.get(ktu), op.get(jb), op.i32Add, op.v128Zero, op.v128Store());
    });
    fn.loop(i, op.i32(0), op.get(n1), 1, () => {
      fn.emit(op.get(f), op.get(i), op.i32(8), op.i32Mul, op.i32Add, op.f64Load(), op.f64x2Splat, op.set(fi));
      fn.emit(op.get(K), op.get(i), op.get(rowBytes), op.i32Mul, op.i32Add, op.set(kRow));
      fn.emit(op.get(C), op.get(i), op.get(rowBytes), op.i32Mul, op.i32Add, op.set(cRow));
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

  // plan(K, u, v, out, n1, n2p): out[i][j] = (u_i·K̃_ij)·v_j, rows of n2p doubles.
  {
    const fn = new FnBuilder('plan', [I32, I32, I32, I32, I32, I32]);
    const [K, u, v, out, n1, n2p] = [0, 1, 2, 3, 4, 5];
    const [i, jb, kRow, oRow, rowBytes] = Array.from({ length: 5 }, () => fn.local(I32)) as [number, number, number, number, number];
    const ui = fn.local(V128);
    fn.emit(op.get(n2p), op.i32(8), op.i32Mul, op.set(rowBytes));
    fn.loop(i, op.i32(0), op.get(n1), 1, () => {
      fn.emit(op.get(u), op.get(i), op.i32(8), op.i32Mul, op.i32Add, op.f64Load(), op.f64x2Splat, op.set(ui));
      fn.emit(op.get(K), op.get(i), op.get(rowBytes), op.i32Mul, op.i32Add, op.set(kRow));
      fn.emit(op.get(out), op.get(i), op.get(rowBytes), op.i32Mul, op.i32Add, op.set(oRow));
      fn.loop(jb, op.i32(0), op.get(rowBytes), 16, () => {
        fn.emit(op.get(oRow), op.get(jb), op.i32Add);
        fn.emit(op.get(ui), op.get(kRow), op.get(jb), op.i32Add, op.v128Load(), op.f64x2Mul);
        fn.emit(op.get(v), op.get(jb), op.i32Add, op.v128Load(), op.f64x2Mul, op.v128Store());
      });
    });
    fns.push(fn);
  }

  // axpy(dst, x, y, a, bytes): dst = x + a·y over `bytes` (multiple of 16); dst may be x.
  {
    const fn = new FnBuilder('axpy', [I32, I32, I32, F64, I32]);
    const [dst, x, y, a, bytes] = [0, 1, 2, 3, 4];
    const jb = fn.local(I32);
    const va = fn.local(V128);
    fn.emit(op.get(a), op.f64x2Splat, op.set(va));
    fn.loop(jb, op.i32(0), op.get(bytes), 16, () => {
      fn.emit(op.get(dst), op.get(jb), op.i32Add);
      fn.emit(op.get(x), op.get(jb), op.i32Add, op.v128Load(), op.get(va), op.get(y), op.get(jb), op.i32Add, op.v128Load(), op.f64x2Mul, op.f64x2Add);
      fn.emit(op.v128Store());
    });
    fns.push(fn);
  }

  // diff2(x, y, bytes) → Σ (x − y)² over `bytes` (multiple of 16).
  {
    const fn = new FnBuilder('diff2', [I32, I32, I32], [F64]);
    const [x, y, bytes] = [0, 1, 2];
    const jb = fn.local(I32);
    const [s, d] = [fn.local(V128), fn.local(V128)];
    fn.emit(op.v128Zero, op.set(s));
    fn.loop(jb, op.i32(0), op.get(bytes), 16, () => {
      fn.emit(op.get(x), op.get(jb), op.i32Add, op.v128Load(), op.get(y), op.get(jb), op.i32Add, op.v128Load(), op.f64x2Sub, op.tee(d));
      fn.emit(op.get(d), op.f64x2Mul, op.get(s), op.f64x2Add, op.set(s));
    });
    fn.emit(op.get(s), op.f64x2Lane(0), op.get(s), op.f64x2Lane(1), op.f64Add);
    fns.push(fn);
  }

  fns.push(packFunction(), gemmPackedFunction('gemmRows', false), gemmPackedFunction('gemmPacked', true));
  return assembleModule(fns);
}

interface Exports {
  vexp(src: number, dst: number, count: number): void;
  rebuild(K: number, C: number, f: number, g: number, ktu: number, n1: number, n2p: number, inv: number): void;
  scaleRows(K: number, v: number, u: number, a: number, ktu: number, n1: number, n2p: number): number;
  plan(K: number, u: number, v: number, out: number, n1: number, n2p: number): void;
  axpy(dst: number, x: number, y: number, a: number, bytes: number): void;
  diff2(x: number, y: number, bytes: number): number;
  pack(src: number, dst: number, rows: number, R: number, stride: number): void;
  gemmRows(a: number, b: number, c: number, pp: number, rp: number, ks: number, ldc: number): void;
  gemmPacked(a: number, b: number, c: number, pp: number, rp: number, ks: number, ldc: number): void;
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
const even = (n: number): number => (n + 1) & ~1;
const four = (n: number): number => (n + 3) & ~3;

/**
 * The memory of one entropic solve of size n1×n2 and the kernels that work in it. Every matrix is
 * stored with rows padded to an even length (n1p, n2p) and, where it is a product operand, row
 * counts padded (to 4 for the left operand, 2 for the right); padding is zero and stays zero (the
 * kernels write zeros there, the JavaScript side only the real entries), so sums over a padded
 * region are sums over the matrix. The memory never grows, so the views stay valid.
 *
 * Sinkhorn regions: K̃ and a cost scratch (n1 × n2p), a plan scratch, the potentials f, g, the
 * scalings u, v, ktu = K̃ᵀ·u and the row weights a (views of exactly n1 or n2 entries; g's padding
 * is −∞ so that the padded column of K̃ is exp(−∞) = 0, v's padding 0).
 * FGW regions (with `fgw`): C1 (r1 × n1p), C2 (r2 × n2p) and their transposes for asymmetric
 * structures, T and Tprev (n1p × n2p), tmp = C2·Tᵀ (r2 × n1p), P = C1·T·C2ᵀ and Pt (r1 × n2p), and
 * A0, the constant part of the linearised cost (n1 × n2p); r1, r2 are n1, n2 rounded up to 4.
 */
export class EntropicKernel {
  readonly n1p: number;
  readonly n2p: number;
  readonly r1: number;
  readonly r2: number;
  readonly K: Float64Array;
  readonly cost: Float64Array;
  readonly out: Float64Array;
  readonly f: Float64Array;
  readonly g: Float64Array;
  readonly u: Float64Array;
  readonly v: Float64Array;
  readonly ktu: Float64Array;
  readonly a: Float64Array;
  private readonly C1: Float64Array;
  private readonly C2: Float64Array;
  private readonly C1t: Float64Array;
  private readonly C2t: Float64Array;
  private readonly C1pk: Float64Array;
  private readonly C2pk: Float64Array;
  private readonly C1tpk: Float64Array;
  private readonly C2tpk: Float64Array;
  readonly T: Float64Array;
  readonly Tprev: Float64Array;
  private readonly Tpk: Float64Array;
  private readonly tmp: Float64Array;
  readonly P: Float64Array;
  readonly Pt: Float64Array;
  readonly A0: Float64Array;
  private readonly buffer: ArrayBuffer;
  private readonly x: Exports;
  /** Where the regions end (they start at CONST_BYTES), and g's padding entry (-1: none). */
  private readonly end: number;
  private readonly gPad: number;

  private constructor(
    readonly n1: number,
    readonly n2: number,
    fgw: { asymmetric: boolean } | null,
    module: object,
  ) {
    const n1p = even(n1);
    const n2p = even(n2);
    const r1 = four(n1);
    const r2 = four(n2);
    this.n1p = n1p;
    this.n2p = n2p;
    this.r1 = r1;
    this.r2 = r2;
    const regions: [string, number][] = [
      ['K', n1 * n2p],
      ['cost', n1 * n2p],
      ['out', n1 * n2p],
      ['f', n1],
      ['g', n2p],
      ['u', n1p],
      ['v', n2p],
      ['ktu', n2p],
      ['a', n1p],
    ];
    const asym = fgw?.asymmetric ?? false;
    if (fgw) {
      regions.push(['C1', r1 * n1p], ['C2', r2 * n2p], ['C1pk', r1 * n1p], ['C2pk', r2 * n2p]);
      regions.push(['T', n1p * n2p], ['Tprev', n1p * n2p], ['Tpk', n1p * n2p], ['tmp', r2 * n1p], ['P', r1 * n2p], ['A0', n1 * n2p]);
      if (asym) regions.push(['C1t', r1 * n1p], ['C2t', r2 * n2p], ['C1tpk', r1 * n1p], ['C2tpk', r2 * n2p], ['Pt', r1 * n2p]);
    }
    // Regions start on 16 bytes, after the constant table.
    const at: Record<string, number> = {};
    let end = CONST_BYTES;
    for (const [name, doubles] of regions) {
      at[name] = end;
      end += even(doubles) * 8;
    }
    const memory: WasmMemory = new WA!.Memory({ initial: Math.ceil(end / PAGE) });
    this.x = new WA!.Instance(module, { env: { mem: memory } }).exports as unknown as Exports;
    this.buffer = memory.buffer;
    writeConstants(this.buffer);
    const view = (name: string, len: number): Float64Array => (name in at ? new Float64Array(this.buffer, at[name]!, len) : new Float64Array(0));
    this.K = view('K', n1 * n2p);
    this.cost = view('cost', n1 * n2p);
    this.out = view('out', n1 * n2p);
    this.f = view('f', n1);
    this.g = view('g', n2);
    this.u = view('u', n1);
    this.v = view('v', n2);
    this.ktu = view('ktu', n2);
    this.a = view('a', n1);
    this.C1 = view('C1', r1 * n1p);
    this.C2 = view('C2', r2 * n2p);
    this.C1t = view('C1t', r1 * n1p);
    this.C2t = view('C2t', r2 * n2p);
    this.C1pk = view('C1pk', r1 * n1p);
    this.C2pk = view('C2pk', r2 * n2p);
    this.C1tpk = view('C1tpk', r1 * n1p);
    this.C2tpk = view('C2tpk', r2 * n2p);
    this.T = view('T', n1p * n2p);
    this.Tprev = view('Tprev', n1p * n2p);
    this.Tpk = view('Tpk', n1p * n2p);
    this.tmp = view('tmp', r2 * n1p);
    this.P = view('P', r1 * n2p);
    this.Pt = view('Pt', r1 * n2p);
    this.A0 = view('A0', n1 * n2p);
    this.end = end;
    this.gPad = n2p > n2 ? at.g! / 8 + n2 : -1;
    this.clear();
  }

  /**
   * Every region back to its state in a new kernel: zeros, and g's padding -∞ (so the padding column
   * of K̃ is 0). A solve that failed can leave NaN in the padding rows and columns, which no later
   * pass overwrites and the SIMD passes multiply by 0 (NaN·0 = NaN): a reused kernel is cleared first.
   */
  clear(): void {
    new Float64Array(this.buffer, CONST_BYTES, (this.end - CONST_BYTES) / 8).fill(0);
    if (this.gPad >= 0) new Float64Array(this.buffer)[this.gPad] = -Infinity;
  }

  /** A kernel for n1×n2 (with the FGW regions when `fgw` is given), or null without WebAssembly SIMD. */
  static create(n1: number, n2: number, fgw: { asymmetric: boolean } | null = null): EntropicKernel | null {
    const module = compile();
    if (!module) return null;
    try {
      return new EntropicKernel(n1, n2, fgw, module);
    } catch {
      return null;
    }
  }

  /** True when `view` lies in this kernel's memory (then the kernels can work on it in place). */
  owns(view: Float64Array): boolean {
    return view.buffer === this.buffer;
  }

  /** K̃ = exp((f_i + g_j − C_ij)/ε) and ktu = K̃ᵀ·1, for a cost C in this memory (rows of n2p). */
  rebuild(C: Float64Array, eps: number): void {
    this.x.rebuild(this.K.byteOffset, C.byteOffset, this.f.byteOffset, this.g.byteOffset, this.ktu.byteOffset, this.n1, this.n2p, 1 / eps);
  }

  /** u = a/(K̃·v) and ktu = K̃ᵀ·u; false (u partly written) when some u_i is not in (0, ∞). */
  scaleRows(): boolean {
    return this.x.scaleRows(this.K.byteOffset, this.v.byteOffset, this.u.byteOffset, this.a.byteOffset, this.ktu.byteOffset, this.n1, this.n2p) === 1;
  }

  /** out = diag(u)·K̃·diag(v), `out` in this memory with rows of n2p. */
  plan(out: Float64Array): void {
    this.x.plan(this.K.byteOffset, this.u.byteOffset, this.v.byteOffset, out.byteOffset, this.n1, this.n2p);
  }

  /** dst = x + a·y over the whole of dst (all three in this memory, of at least dst's length). */
  axpy(dst: Float64Array, x: Float64Array, y: Float64Array, a: number): void {
    this.x.axpy(dst.byteOffset, x.byteOffset, y.byteOffset, a, even(dst.length) * 8);
  }

  /** Σ (x − y)² over x's length. */
  diff2(x: Float64Array, y: Float64Array): number {
    return this.x.diff2(x.byteOffset, y.byteOffset, even(x.length) * 8);
  }

  /**
   * The structures of this solve (compact n1×n1 and n2×n2; the transposes for asymmetric ones):
   * copied with padded rows, then packed as left operands.
   */
  setStructures(C1: Float64Array, C2: Float64Array, C1t: Float64Array | null, C2t: Float64Array | null): void {
    const { n1, n2, n1p, n2p, r1, r2 } = this;
    const put = (src: Float64Array, n: number, rows: Float64Array, packed: Float64Array, ld: number, r: number): void => {
      for (let i = 0; i < n; i++) rows.set(src.subarray(i * n, i * n + n), i * ld);
      this.x.pack(rows.byteOffset, packed.byteOffset, r, 4, ld);
    };
    put(C1, n1, this.C1, this.C1pk, n1p, r1);
    put(C2, n2, this.C2, this.C2pk, n2p, r2);
    if (C1t && C2t) {
      if (this.C1tpk.length === 0) throw new RangeError('EntropicKernel: created without the asymmetric regions');
      put(C1t, n1, this.C1t, this.C1tpk, n1p, r1);
      put(C2t, n2, this.C2t, this.C2tpk, n2p, r2);
    }
  }

  /**
   * out = C1·T·C2ᵀ (or C1ᵀ·T·C2 with `transposed`), T and out in this memory (rows of n2p):
   * T is packed, tmp = C2·Tᵀ comes out packed as the right operand of out = C1·tmpᵀ.
   */
  sandwich(transposed: boolean, T: Float64Array, out: Float64Array): void {
    const { n1p, n2p, r1, r2, Tpk, tmp } = this;
    const A = transposed ? this.C1tpk : this.C1pk;
    const B = transposed ? this.C2tpk : this.C2pk;
    this.x.pack(T.byteOffset, Tpk.byteOffset, n1p, 2, n2p);
    // tmp (r2 × n1p) = B·Tᵀ, k over n2p; written as the packed right operand of the next product.
    this.x.gemmPacked(B.byteOffset, Tpk.byteOffset, tmp.byteOffset, r2, n1p, n2p / 2, n1p / 2);
    // out (r1 × n2p) = A·tmpᵀ, k over n1p; tmp's first n2p rows.
    this.x.gemmRows(A.byteOffset, tmp.byteOffset, out.byteOffset, r1, n2p, n1p / 2, n2p);
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
  const np = even(n);
  const memory: WasmMemory = new WA!.Memory({ initial: Math.ceil((CONST_BYTES + np * 16) / PAGE) });
  const x = new WA!.Instance(module, { env: { mem: memory } }).exports as unknown as Exports;
  writeConstants(memory.buffer);
  const f = new Float64Array(memory.buffer, CONST_BYTES, 2 * np);
  f.set(xs, 0);
  x.vexp(CONST_BYTES, CONST_BYTES + np * 8, np);
  return f.slice(np, np + n);
}

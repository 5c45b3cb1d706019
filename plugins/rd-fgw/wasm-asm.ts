/**
 * A very small WebAssembly assembler: enough to write the numeric kernels of this plugin as
 * structured code in TypeScript (no toolchain, no binary file in the repository). Functions are
 * built from byte fragments; locals are named by index; loops and conditionals are helpers that
 * emit the block/loop/br structure. Only the instructions the kernels use are listed.
 */

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof I64 | typeof F64 | typeof V128;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  while (true) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const f64Bytes = (x: number): number[] => Array.from(new Uint8Array(Float64Array.of(x).buffer));
const simd = (code: number): number[] => [0xfd, ...uleb(code)];
/** memarg: alignment hint (log2 bytes) and a constant byte offset. */
const mem = (align: number, offset: number): number[] => [align, ...uleb(offset)];

/** Instructions. Loads and stores take a constant byte offset added to the address operand. */
export const op = {
  get: (i: number): number[] => [0x20, ...uleb(i)],
  set: (i: number): number[] => [0x21, ...uleb(i)],
  tee: (i: number): number[] => [0x22, ...uleb(i)],
  i32: (v: number): number[] => [0x41, ...sleb(v)],
  i64: (v: number | bigint): number[] => [0x42, ...sleb(v)],
  f64: (v: number): number[] => [0x44, ...f64Bytes(v)],
  ret: [0x0f],
  // i32
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32Shl: [0x74],
  i32ShrU: [0x76],
  i32And: [0x71],
  i32Eqz: [0x45],
  i32LtS: [0x48],
  i32GeS: [0x4e],
  i32GeU: [0x4f],
  // f64 scalar
  f64Load: (offset = 0): number[] => [0x2b, ...mem(3, offset)],
  f64Store: (offset = 0): number[] => [0x39, ...mem(3, offset)],
  f64Add: [0xa0],
  f64Sub: [0xa1],
  f64Mul: [0xa2],
  f64Div: [0xa3],
  f64Lt: [0x63],
  f64Gt: [0x64],
  // v128
  v128Load: (offset = 0): number[] => [...simd(0x00), ...mem(3, offset)],
  v128Store: (offset = 0): number[] => [...simd(0x0b), ...mem(3, offset)],
  v128Zero: [...simd(0x0c), ...new Array<number>(16).fill(0)],
  f64x2Const: (x: number): number[] => [...simd(0x0c), ...f64Bytes(x), ...f64Bytes(x)],
  i64x2Const: (x: bigint): number[] => {
    const b = new Uint8Array(BigInt64Array.of(x, x).buffer);
    return [...simd(0x0c), ...b];
  },
  f64x2Splat: simd(0x14),
  f64x2Lane: (l: number): number[] => [...simd(0x21), l],
  f64x2Nearest: simd(0x94),
  f64x2Add: simd(0xf0),
  f64x2Sub: simd(0xf1),
  f64x2Mul: simd(0xf2),
  f64x2Min: simd(0xf4),
  f64x2Max: simd(0xf5),
  /** pmin(a, b) = b < a ? b : a; pmax(a, b) = a < b ? b : a (one instruction each on x64). */
  f64x2Pmin: simd(0xf6),
  f64x2Pmax: simd(0xf7),
  i64x2Shl: simd(0xcb),
  i64x2ShrS: simd(0xcc),
  i64x2Add: simd(0xce),
  i64x2Sub: simd(0xd1),
};

/** One function: parameters first, then locals declared with `local`. */
export class FnBuilder {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(
    readonly name: string,
    readonly params: ValType[],
    readonly results: ValType[] = [],
  ) {}

  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  emit(...parts: number[][]): this {
    for (const p of parts) for (const b of p) this.code.push(b);
    return this;
  }

  /** for (i = from; i < to; i += step) body — all i32 (signed compare); `to` re-read each time. */
  loop(i: number, from: number[], to: number[], step: number, body: () => void): this {
    this.emit(from, op.set(i), [0x02, 0x40, 0x03, 0x40]);
    this.emit(op.get(i), to, op.i32GeS, [0x0d, 1]);
    body();
    this.emit(op.get(i), op.i32(step), op.i32Add, op.set(i), [0x0c, 0, 0x0b, 0x0b]);
    return this;
  }

  /** if (cond) then — cond is an i32 on the stack. */
  when(cond: number[], then: () => void): this {
    this.emit(cond, [0x04, 0x40]);
    then();
    this.emit([0x0b]);
    return this;
  }

  body(): number[] {
    // Locals are declared one run per type change.
    const runs: number[][] = [];
    for (let k = 0; k < this.locals.length; ) {
      let n = 1;
      while (k + n < this.locals.length && this.locals[k + n] === this.locals[k]) n++;
      runs.push([...uleb(n), this.locals[k]!]);
      k += n;
    }
    const b = [...uleb(runs.length), ...runs.flat(), ...this.code, 0x0b];
    return [...uleb(b.length), ...b];
  }
}

const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => {
  const b = Array.from(s, (c) => c.charCodeAt(0));
  return [...uleb(b.length), ...b];
};

/** A module that imports its memory as env.mem and exports every function under its name. */
export function assembleModule(fns: FnBuilder[]): Uint8Array {
  const sigs: string[] = [];
  const typeOf = fns.map((f) => {
    const key = `${f.params.join(',')}>${f.results.join(',')}`;
    let k = sigs.indexOf(key);
    if (k < 0) k = sigs.push(key) - 1;
    return k;
  });
  const types = sigs.map((s) => {
    const [ps, rs] = s.split('>') as [string, string];
    const list = (x: string): number[][] => (x ? x.split(',').map((t) => [Number(t)]) : []);
    return [0x60, ...vec(list(ps)), ...vec(list(rs))];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, 0x01]])),
    ...section(3, vec(typeOf.map((t) => uleb(t)))),
    ...section(7, vec(fns.map((f, k) => [...name(f.name), 0x00, ...uleb(k)]))),
    ...section(10, vec(fns.map((f) => f.body()))),
  ]);
}

/** The slice of the WebAssembly JS API used here (the project's TypeScript lib does not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
}
export const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

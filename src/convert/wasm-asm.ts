// A small WebAssembly assembler: just what the pixel-format kernels in this folder need (their
// modules are assembled at load time from their instructions: no build step, no binary in the tree).

export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const str = (s: string) => [...uleb(s.length), ...Buffer.from(s, 'latin1')];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];

// Opcodes (WebAssembly core and fixed-width SIMD).
export const I32 = 0x7f, V128 = 0x7b;
export const SIMD = {
  load: 0x00, store: 0x0b, const: 0x0c, swizzle: 0x0e, or: 0x50, store64Lane: 0x5b,
  narrowU: 0x66, extaddPairwiseU: 0x7d, extendLowU: 0x89, extendHighU: 0x8a,
  shrS: 0x8c, shrU: 0x8d, add: 0x8e, mul: 0x95,
  // i8x16.shuffle takes 16 lane indices as immediates; load8x8U widens 8 bytes to i16x8.
  and: 0x4e, shuffle: 0x0d, load8x8U: 0x02, subSatU8: 0x73, addSatS: 0x8f, sub: 0x91, extmulLowU: 0x9e, extmulHighU: 0x9f,
};

export class Asm {
  readonly b: number[] = [];
  op(...bytes: number[]): this {
    this.b.push(...bytes);
    return this;
  }
  get(i: number) { return this.op(0x20, ...uleb(i)); }
  set(i: number) { return this.op(0x21, ...uleb(i)); }
  i32(n: number) { return this.op(0x41, ...sleb(n)); }
  add() { return this.op(0x6a); }
  sub() { return this.op(0x6b); }
  mul() { return this.op(0x6c); }
  shrU() { return this.op(0x76); }
  simd(code: number, ...imm: number[]) { return this.op(0xfd, ...uleb(code), ...imm); }
  /** v128 load/store with alignment hint 0 and no offset. */
  load() { return this.simd(SIMD.load, 0, 0); }
  store() { return this.simd(SIMD.store, 0, 0); }
  v128(bytes: number[]) { return this.simd(SIMD.const, ...bytes); }
}

export const i16x8 = (v: number) => {
  const out: number[] = [];
  for (let i = 0; i < 8; i++) out.push(v & 0xff, (v >> 8) & 0xff);
  return out;
};

/**
 * A module of one exported function `name` taking `params` i32 parameters and returning nothing,
 * with `locals` ([count, type] groups) and `code`, over a memory imported as env.mem.
 */
export function moduleOf(name: string, params: number, locals: Array<[number, number]>, code: number[]): Uint8Array<ArrayBuffer> {
  const body = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(Array.from({ length: params }, () => [I32])), 0x00]])),
    ...section(2, vec([[...str('env'), ...str('mem'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([[0x00]])),
    ...section(7, vec([[...str(name), 0x00, 0x00]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

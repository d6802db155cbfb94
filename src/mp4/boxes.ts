/**
 * ISO/IEC 14496-12 box framing: a 32-bit size, a four-character type, then the payload;
 * "full boxes" add a version byte and 24 bits of flags. Big-endian throughout.
 */

/** A box around the given payload parts. */
export function box(type: string, ...parts: Uint8Array[]): Buffer {
  if (type.length !== 4) throw new RangeError(`box type must be four characters, got ${JSON.stringify(type)}`);
  let size = 8;
  for (const p of parts) size += p.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(size, 0);
  out.write(type, 4, 'latin1');
  let off = 8;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A full box: version and flags before the payload (§4.2). */
export function fullBox(type: string, version: number, flags: number, ...parts: Uint8Array[]): Buffer {
  const vf = Buffer.allocUnsafe(4);
  vf.writeUInt32BE(((version & 0xff) << 24 | (flags & 0xffffff)) >>> 0, 0);
  return box(type, vf, ...parts);
}


export function u16(...v: number[]): Buffer {
  const b = Buffer.allocUnsafe(v.length * 2);
  v.forEach((x, i) => b.writeUInt16BE(x, i * 2));
  return b;
}

export function u32(...v: number[]): Buffer {
  const b = Buffer.allocUnsafe(v.length * 4);
  v.forEach((x, i) => b.writeUInt32BE(x >>> 0, i * 4));
  return b;
}

export function u64(v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(Math.round(v)), 0);
  return b;
}

export function zeros(n: number): Buffer {
  return Buffer.alloc(n);
}

/** The unity transformation matrix of mvhd and tkhd (§8.2.2, §8.3.2). */
export const UNITY_MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);

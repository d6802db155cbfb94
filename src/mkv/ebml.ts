/**
 * EBML (RFC 8794) primitives: variable-size integers, element IDs and
 * element encoding, plus the matching readers used to check what was written.
 */

/**
 * Largest value we encode. An 8-byte vint carries up to 2^56 - 2 (all ones means
 * "unknown"), but JavaScript numbers are exact only up to 2^53 - 1.
 */
export const MAX_VINT_VALUE = Number.MAX_SAFE_INTEGER;

/** The 8-byte "unknown size" marker: length 8, all value bits set (RFC 8794 section 6.2). */
export const UNKNOWN_SIZE_BYTES: Readonly<Buffer> = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** Bytes a vint needs for `value`; a width's all-ones value is reserved, so it moves up a width. */
export function vintLength(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_VINT_VALUE) {
    throw new RangeError(`EBML vint value out of range: ${value}`);
  }
  for (let len = 1; len <= 8; len++) {
    if (value < 2 ** (7 * len) - 1) return len;
  }
  return 8;
}

/** Encodes a data size (or any vint value) with the VINT_MARKER, in `length` bytes (minimal when omitted). */
export function encodeVint(value: number, length = vintLength(value)): Buffer {
  if (length < 1 || length > 8 || length < vintLength(value)) {
    throw new RangeError(`EBML vint value ${value} does not fit in ${length} bytes`);
  }
  const out = Buffer.alloc(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  out[0]! |= 0x80 >> (length - 1);
  return out;
}

/** Bytes of an element ID: IDs are written with their marker bits as part of the value. */
export function encodeId(id: number): Buffer {
  if (!Number.isInteger(id) || id < 0x81 || id > 0x1fffffff) throw new RangeError(`bad EBML ID 0x${id.toString(16)}`);
  const len = id < 0x100 ? 1 : id < 0x10000 ? 2 : id < 0x1000000 ? 3 : 4;
  const out = Buffer.alloc(len);
  out.writeUIntBE(id, 0, len);
  // The marker bit must match the width, otherwise the ID is not valid EBML.
  if ((out[0]! & (0x100 >> len)) === 0 || (out[0]! & ~(0x1ff >> len) & 0xff) !== 0) {
    throw new RangeError(`EBML ID 0x${id.toString(16)} has no valid length marker`);
  }
  return out;
}

/** A complete element: ID, minimal size vint, payload. */
export function element(id: number, payload: Buffer): Buffer {
  return Buffer.concat([encodeId(id), encodeVint(payload.length), payload]);
}

/** A master element made of already-encoded children. */
export function master(id: number, children: Buffer[]): Buffer {
  return element(id, Buffer.concat(children));
}

/** Header of a master element of unknown size (live streaming: segment and clusters). */
export function unknownSizeHeader(id: number): Buffer {
  return Buffer.concat([encodeId(id), UNKNOWN_SIZE_BYTES]);
}

/** Unsigned integer element, big-endian in as few bytes as the value needs (at least one). */
export function uintElement(id: number, value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad unsigned value ${value}`);
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return element(id, Buffer.from(bytes));
}

/** UTF-8 string element (ASCII strings such as DocType and CodecID are a subset). */
export function stringElement(id: number, value: string): Buffer {
  return element(id, Buffer.from(value, 'utf8'));
}

// ---------------------------------------------------------------- reading

export interface Vint {
  /** Decoded value (marker removed); for unknown sizes this is -1. */
  value: number;
  /** Bytes taken. */
  length: number;
  unknown: boolean;
}

/** Reads a vint at `offset`; undefined when the buffer ends before it does. Throws on an invalid first byte. */
export function readVint(buf: Buffer, offset: number): Vint | undefined {
  if (offset >= buf.length) return undefined;
  const first = buf[offset]!;
  if (first === 0) throw new Error(`invalid EBML vint (zero first byte) at ${offset}`);
  const length = Math.clz32(first) - 23;
  if (offset + length > buf.length) return undefined;
  let value = first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const b = buf[offset + i]!;
    value = value * 256 + b;
    if (b !== 0xff) allOnes = false;
  }
  if (allOnes) return { value: -1, length, unknown: true };
  return { value, length, unknown: false };
}

/** Reads an element ID (marker kept) at `offset`; undefined when the buffer is too short. */
export function readId(buf: Buffer, offset: number): { id: number; length: number } | undefined {
  if (offset >= buf.length) return undefined;
  const first = buf[offset]!;
  const length = Math.clz32(first) - 23;
  if (length < 1 || length > 4) throw new Error(`invalid EBML ID first byte 0x${first.toString(16)} at ${offset}`);
  if (offset + length > buf.length) return undefined;
  return { id: buf.readUIntBE(offset, length), length };
}

/** Reads an unsigned integer payload (0-8 bytes). */
export function readUint(payload: Buffer): number {
  if (payload.length > 8) throw new Error(`unsigned integer element of ${payload.length} bytes`);
  let v = 0;
  for (const b of payload) v = v * 256 + b;
  return v;
}

/** Reads a float payload (0, 4 or 8 bytes). */
export function readFloat(payload: Buffer): number {
  if (payload.length === 0) return 0;
  if (payload.length === 4) return payload.readFloatBE(0);
  if (payload.length === 8) return payload.readDoubleBE(0);
  throw new Error(`float element of ${payload.length} bytes`);
}

export interface ElementHeader {
  id: number;
  /** Payload size, -1 when unknown. */
  size: number;
  /** Bytes of ID + size. */
  headerLength: number;
}

/** Reads an element's ID and size at `offset`; undefined when more bytes are needed. */
export function readElementHeader(buf: Buffer, offset: number): ElementHeader | undefined {
  const id = readId(buf, offset);
  if (!id) return undefined;
  const size = readVint(buf, offset + id.length);
  if (!size) return undefined;
  return { id: id.id, size: size.value, headerLength: id.length + size.length };
}

/** The children of a fully buffered master element payload. */
export function readChildren(payload: Buffer): { id: number; data: Buffer }[] {
  const out: { id: number; data: Buffer }[] = [];
  let off = 0;
  while (off < payload.length) {
    const h = readElementHeader(payload, off);
    if (!h) throw new Error(`truncated EBML element at ${off}`);
    if (h.size < 0) throw new Error(`unknown-size child 0x${h.id.toString(16)} inside a sized master`);
    const start = off + h.headerLength;
    const end = start + h.size;
    if (end > payload.length) throw new Error(`EBML element 0x${h.id.toString(16)} overruns its parent`);
    out.push({ id: h.id, data: payload.subarray(start, end) });
    off = end;
  }
  return out;
}

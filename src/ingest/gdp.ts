/**
 * GStreamer Data Protocol 1.0 (gdppay's framing), read incrementally from a byte stream.
 *
 * Both halves of LiveSource move GStreamer buffers into Node over a pipe or loopback TCP
 * socket (no appsink, so no libuv threadpool thread is held). GDP keeps what a bare byte
 * stream loses: buffer boundaries, PTS, the delta-unit (not a keyframe) flag and the caps.
 *
 * Header (62 bytes, big-endian): 0 major, 1 minor, 2 flags, 3 pad, 4 payload type (u16),
 * 6 payload length (u32), 10 PTS (u64 ns), 18 duration, 26 offset, 34 offset end,
 * 42 buffer flags (u16), 44 DTS (u64), 58 header CRC, 60 payload CRC.
 */

export const GDP_HEADER_BYTES = 62;
export const GDP_BUFFER = 1;
export const GDP_CAPS = 2;
export const GDP_EVENT_BASE = 64;
/** GST_BUFFER_FLAG_DELTA_UNIT: the buffer cannot be decoded on its own. */
export const GST_FLAG_DELTA_UNIT = 0x2000;
const FLAG_CRC_HEADER = 1;
/** GST_EVENT_EOS's number (GST_EVENT_MAKE_TYPE(28, ...) >> 8). */
const EVENT_EOS_NUMBER = 28;
/** GST_CLOCK_TIME_NONE's high word. */
const NONE_HI = 0xffff_ffff;
/** The largest payload a parser accepts unless told otherwise. */
export const GDP_MAX_PAYLOAD_BYTES = 256 * 2 ** 20;
/** Payloads from this size on are assembled in place (decoded frames). */
const LARGE_PAYLOAD_BYTES = 64 * 1024;

export type GdpPacket =
  | {
      kind: 'buffer';
      ptsNs: number;
      dtsNs: number;
      durationNs: number;
      delta: boolean;
      payload: Buffer;
      /** True when `payload` is memory of its own (assembled from several chunks), false when it is a view of a pushed chunk. */
      owned: boolean;
    }
  | { kind: 'caps'; caps: string }
  | { kind: 'eos' }
  | { kind: 'event'; type: number };

export interface GdpLimits {
  /** Largest payload accepted; beyond it the stream is taken as corrupt. */
  maxPayloadBytes: number;
  /**
   * Where to assemble a large payload of `length` bytes (undefined: memory of its own). The
   * buffer is the packet's payload until the callback returns, then may be reused: LiveSource's
   * decoder assembles frames straight into its converter's memory.
   */
  allocate?: (length: number) => Buffer | undefined;
}

/** CRC-16 (CCITT, inverted), as GStreamer computes it over the first 58 header bytes. */
export function gdpCrc(buf: Uint8Array, length: number): number {
  let crc = 0xffff;
  for (let i = 0; i < length; i++) {
    crc ^= buf[i]! << 8;
    for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc ^ 0xffff;
}

/** A u64 nanosecond field as a number (NONE as -1). Exact up to 2^53 ns (104 days of running time). */
function readTime(b: Buffer, off: number): number {
  const hi = b.readUInt32BE(off);
  const lo = b.readUInt32BE(off + 4);
  if (hi === NONE_HI && lo === NONE_HI) return -1;
  return hi * 0x1_0000_0000 + lo;
}

/**
 * Incremental parser: push() chunks as they come, packets go to the callback. Never throws on
 * bad input; the first malformed header is reported once through `onError` (naming what was
 * expected and what came) and everything after it is ignored, since framing is lost.
 */
export class GdpParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;
  /** Bytes consumed so far (for error messages). */
  private consumed = 0;
  /** A large payload being filled in place. */
  private large: { header: Buffer; payload: Buffer; filled: number } | undefined;

  constructor(
    private readonly onPacket: (p: GdpPacket) => void,
    private readonly onError: (message: string) => void,
    private readonly limits: GdpLimits = { maxPayloadBytes: GDP_MAX_PAYLOAD_BYTES },
  ) {}

  get error(): boolean {
    return this.failed;
  }

  /** Bytes held for a packet not yet complete. */
  get pendingBytes(): number {
    return this.buffered + (this.large?.filled ?? 0);
  }

  /**
   * `transient`: the chunk's memory is reused once push() returns (a socket read into a fixed
   * buffer), so whatever the parser keeps of it is copied; packets handed out during the call may
   * still be views of it (`owned` false), to be copied by the callback if kept.
   */
  push(chunk: Buffer, transient = false): void {
    if (this.failed || chunk.length === 0) return;
    const large = this.large;
    if (large) {
      // A large payload is copied straight into its own buffer as it arrives: one copy, and no
      // pile of socket chunks kept alive until the last one.
      const n = Math.min(chunk.length, large.payload.length - large.filled);
      chunk.copy(large.payload, large.filled, 0, n);
      large.filled += n;
      if (large.filled < large.payload.length) return;
      this.large = undefined;
      this.consumed += GDP_HEADER_BYTES + large.payload.length;
      this.emit(large.header, large.payload, true);
      if (this.failed || n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < GDP_HEADER_BYTES) return this.keep(transient);
      const header = this.peek(GDP_HEADER_BYTES);
      const problem = this.checkHeader(header);
      if (problem) {
        this.fail(problem);
        return;
      }
      const length = header.readUInt32BE(6);
      if (this.buffered < GDP_HEADER_BYTES + length) {
        if (length >= LARGE_PAYLOAD_BYTES) this.startLarge(length);
        return this.keep(transient);
      }
      const spans = this.chunks[0]!.length < GDP_HEADER_BYTES + length;
      const all = this.take(GDP_HEADER_BYTES + length);
      this.consumed += all.length;
      this.emit(all.subarray(0, GDP_HEADER_BYTES), all.subarray(GDP_HEADER_BYTES), spans);
      if (this.failed) return;
    }
  }

  /** Copies the held bytes out of a transient chunk (at most a partial header or small packet). */
  private keep(transient: boolean): void {
    if (!transient || this.buffered === 0) return;
    this.chunks = [Buffer.from(this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks))];
  }

  private startLarge(length: number): void {
    const head = this.take(GDP_HEADER_BYTES);
    const given = this.limits.allocate?.(length);
    const payload = given && given.length === length ? given : Buffer.allocUnsafe(length);
    let filled = 0;
    for (const c of this.chunks) {
      c.copy(payload, filled);
      filled += c.length;
    }
    this.chunks = [];
    this.buffered = 0;
    this.large = { header: Buffer.from(head), payload, filled };
  }

  private checkHeader(h: Buffer): string | undefined {
    if (h[0] !== 1 || h[1] !== 0) return `expected a GDP 1.0 header at byte ${this.consumed}, got version bytes ${h[0]}.${h[1]}`;
    if (h[2]! & FLAG_CRC_HEADER) {
      const crc = gdpCrc(h, GDP_HEADER_BYTES - 4);
      if (crc !== h.readUInt16BE(58)) return `GDP header CRC mismatch at byte ${this.consumed} (expected ${crc}, got ${h.readUInt16BE(58)})`;
    }
    const length = h.readUInt32BE(6);
    if (length > this.limits.maxPayloadBytes) return `GDP payload of ${length} bytes at byte ${this.consumed} exceeds the ${this.limits.maxPayloadBytes}-byte limit`;
    return undefined;
  }

  private emit(h: Buffer, payload: Buffer, owned: boolean): void {
    const type = h.readUInt16BE(4);
    let packet: GdpPacket;
    if (type === GDP_BUFFER) {
      packet = {
        kind: 'buffer',
        ptsNs: readTime(h, 10),
        durationNs: readTime(h, 18),
        dtsNs: readTime(h, 44),
        delta: (h.readUInt16BE(42) & GST_FLAG_DELTA_UNIT) !== 0,
        payload,
        owned,
      };
    } else if (type === GDP_CAPS) {
      const end = payload.indexOf(0);
      packet = { kind: 'caps', caps: payload.toString('utf8', 0, end < 0 ? payload.length : end) };
    } else if (type >= GDP_EVENT_BASE) {
      const ev = type - GDP_EVENT_BASE;
      packet = ev >> 8 === EVENT_EOS_NUMBER ? { kind: 'eos' } : { kind: 'event', type: ev };
    } else {
      this.fail(`unknown GDP payload type ${type} at byte ${this.consumed - h.length - payload.length}`);
      return;
    }
    this.onPacket(packet);
  }

  private fail(message: string): void {
    this.failed = true;
    this.large = undefined;
    this.chunks = [];
    this.buffered = 0;
    this.onError(message);
  }

  /** The first n buffered bytes without consuming them (copies only when they span chunks). */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    let first = this.chunks[0]!;
    if (first.length < n) {
      this.chunks = [Buffer.concat(this.chunks)];
      first = this.chunks[0]!;
    }
    this.buffered -= n;
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    this.chunks[0] = first.subarray(n);
    return first.subarray(0, n);
  }
}

/** Builds one GDP packet (tests and the ingest worker's own framing use it). */
export function gdpPacket(
  type: number,
  payload: Buffer,
  o: { ptsNs?: number; dtsNs?: number; durationNs?: number; flags?: number; crc?: boolean } = {},
): Buffer {
  const h = Buffer.alloc(GDP_HEADER_BYTES);
  h[0] = 1;
  h[1] = 0;
  h[2] = o.crc === false ? 0 : FLAG_CRC_HEADER;
  h.writeUInt16BE(type, 4);
  h.writeUInt32BE(payload.length, 6);
  const time = (off: number, v: number | undefined) => {
    if (v === undefined || v < 0) {
      h.writeUInt32BE(NONE_HI, off);
      h.writeUInt32BE(NONE_HI, off + 4);
    } else {
      h.writeUInt32BE(Math.floor(v / 0x1_0000_0000), off);
      h.writeUInt32BE(v % 0x1_0000_0000, off + 4);
    }
  };
  time(10, o.ptsNs);
  time(18, o.durationNs);
  time(44, o.dtsNs);
  h.writeUInt16BE(o.flags ?? 0, 42);
  if (h[2]! & FLAG_CRC_HEADER) h.writeUInt16BE(gdpCrc(h, GDP_HEADER_BYTES - 4), 58);
  return Buffer.concat([h, payload]);
}

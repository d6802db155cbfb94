// H.264 RTP depacketizer (RFC 6184 §5.6-5.8): single NAL unit packets, STAP-A and FU-A
// back into access units. A lost packet drops the unit it belongs to rather than
// handing a decoder a corrupt picture.
import { NAL_IDR, nalType } from '../h264/nal.js';
import type { RtpPacket } from './packet.js';

export interface DepacketizedUnit {
  nalus: Buffer[];
  /** RTP timestamp unwrapped past 32 bits (90 kHz). */
  timestamp: number;
  keyframe: boolean;
}

const STAP_A = 24;
const FU_A = 28;
/** A unit growing past this without a marker or new timestamp is garbage: dropped, so memory stays bounded. */
const MAX_UNIT_BYTES = 32 * 2 ** 20;

export class H264Depacketizer {
  private nalus: Buffer[] = [];
  private fu: Buffer[] | undefined;
  private timestamp = -1;
  private lastSeq = -1;
  private corrupt = false;
  private bytes = 0;
  private wraps = 0;
  private lastRaw = -1;
  /** Units dropped because a packet was missing. */
  dropped = 0;

  constructor(private readonly onUnit: (unit: DepacketizedUnit) => void) {}

  /** Payload bytes held for the unit being assembled (bounded). */
  get pendingBytes(): number {
    return this.bytes;
  }

  push(p: RtpPacket): void {
    if (this.lastSeq >= 0 && p.sequence !== ((this.lastSeq + 1) & 0xffff)) {
      this.corrupt = true; // a gap: whatever is being assembled is incomplete
      this.fu = undefined;
    }
    this.lastSeq = p.sequence;
    const ts = this.unwrap(p.timestamp);
    if (ts !== this.timestamp && this.nalus.length > 0) this.flush();
    this.timestamp = ts;

    const payload = p.payload;
    if (payload.length === 0) return;
    this.bytes += payload.length;
    if (this.bytes > MAX_UNIT_BYTES) {
      this.corrupt = true;
      this.nalus = [];
      this.fu = undefined;
      this.bytes = 0;
    }
    const type = payload[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.nalus.push(payload);
    } else if (type === STAP_A) {
      let off = 1;
      while (off + 2 <= payload.length) {
        const size = payload.readUInt16BE(off);
        off += 2;
        if (size === 0 || off + size > payload.length) {
          this.corrupt = true;
          break;
        }
        this.nalus.push(payload.subarray(off, off + size));
        off += size;
      }
    } else if (type === FU_A && payload.length >= 2) {
      const start = (payload[1]! & 0x80) !== 0;
      const end = (payload[1]! & 0x40) !== 0;
      if (start) {
        const header = Buffer.of((payload[0]! & 0xe0) | (payload[1]! & 0x1f));
        this.fu = [header, payload.subarray(2)];
      } else if (this.fu) {
        this.fu.push(payload.subarray(2));
      } else {
        this.corrupt = true;
      }
      if (end && this.fu) {
        this.nalus.push(Buffer.concat(this.fu));
        this.fu = undefined;
      }
    } else {
      this.corrupt = true; // STAP-B, MTAP, FU-B: not produced by our payloader
    }
    if (p.marker) this.flush();
  }

  private flush(): void {
    const nalus = this.nalus;
    this.nalus = [];
    this.bytes = 0;
    if (this.corrupt || this.fu) {
      this.corrupt = false;
      this.fu = undefined;
      this.dropped++;
      return;
    }
    if (nalus.length === 0) return;
    let keyframe = false;
    for (const n of nalus) if (nalType(n) === NAL_IDR) keyframe = true;
    this.onUnit({ nalus, timestamp: this.timestamp, keyframe });
  }

  private unwrap(raw: number): number {
    if (this.lastRaw >= 0 && raw < this.lastRaw && this.lastRaw - raw > 0x8000_0000) this.wraps++;
    this.lastRaw = raw;
    return this.wraps * 0x1_0000_0000 + raw;
  }
}

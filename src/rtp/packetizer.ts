/**
 * H.264 over RTP (RFC 6184), packetization-mode=1, sending side.
 *
 * Packetizing is split from the RTP header so one encoded stream is cut into payloads once and
 * fanned out to many clients, each with its own SSRC, sequence numbers and timestamp offset
 * (RFC 3550 §5.1 asks for random initial values per stream).
 */
import { randomBytes } from 'node:crypto';
import type { AccessUnit } from '../h264/access-unit.js';
import { NAL_AUD, NAL_FILLER, NAL_IDR, NAL_PPS, NAL_SPS, nalType } from '../h264/nal.js';

/** RTP payload type for H.264 (dynamic range, RFC 3551). */
export const H264_PAYLOAD_TYPE = 96;
/** RTP clock rate for video (RFC 6184 §8.2.1). */
export const H264_CLOCK_RATE = 90_000;
export const RTP_HEADER_BYTES = 12;

const FU_A = 28;

/** One RTP payload (without the 12-byte header) and whether it ends the access unit. */
export interface RtpPayload {
  readonly payload: Buffer;
  readonly marker: boolean;
}

export interface PacketizerOptions {
  /** Largest RTP packet, header included; 1400 keeps packets under common path MTUs. */
  maxPacketBytes?: number;
}

export class H264Packetizer {
  readonly maxPayloadBytes: number;
  private spsNal: Buffer | undefined;
  private ppsNal: Buffer | undefined;

  constructor(opts: PacketizerOptions = {}) {
    const max = opts.maxPacketBytes ?? 1400;
    if (!Number.isInteger(max) || max < RTP_HEADER_BYTES + 3 || max > 65535) throw new RangeError('maxPacketBytes out of range');
    this.maxPayloadBytes = max - RTP_HEADER_BYTES;
  }

  /** Latest parameter sets seen in the stream (or given), needed for the SDP and for IDRs without them. */
  get sps(): Buffer | undefined {
    return this.spsNal;
  }

  get pps(): Buffer | undefined {
    return this.ppsNal;
  }

  setParameterSets(sps: Buffer, pps: Buffer): void {
    this.spsNal = sps;
    this.ppsNal = pps;
  }

  /** Forgets the parameter sets (a new stream, possibly of another size, follows). */
  resetParameterSets(): void {
    this.spsNal = undefined;
    this.ppsNal = undefined;
  }

  /**
   * Cuts an access unit into RTP payloads: a NAL unit that fits goes whole (single NAL unit packet,
   * RFC 6184 §5.6), a larger one in FU-A fragments (§5.8). SPS and PPS go before every IDR, so a
   * client can start decoding at any keyframe. The marker bit is set on the last packet of the unit.
   */
  packetize(au: AccessUnit): RtpPayload[] {
    const nalus: Buffer[] = [];
    let hasSps = false;
    let hasPps = false;
    let idrAt = -1;
    for (const nal of au.nalus) {
      if (nal.length === 0) continue;
      const type = nalType(nal);
      if (type === NAL_AUD || type === NAL_FILLER) continue; // framing only; RTP carries the AU boundary
      if (type === NAL_SPS) {
        this.spsNal = nal;
        hasSps = true;
      } else if (type === NAL_PPS) {
        this.ppsNal = nal;
        hasPps = true;
      } else if (type === NAL_IDR && idrAt < 0) {
        idrAt = nalus.length;
      }
      nalus.push(nal);
    }
    if (idrAt >= 0 && (!hasSps || !hasPps) && this.spsNal && this.ppsNal) {
      const missing = [...(hasSps ? [] : [this.spsNal]), ...(hasPps ? [] : [this.ppsNal])];
      nalus.splice(idrAt, 0, ...missing);
    }

    const out: RtpPayload[] = [];
    for (const nal of nalus) {
      if (nal.length <= this.maxPayloadBytes) {
        out.push({ payload: nal, marker: false });
        continue;
      }
      const header = nal[0]!;
      const indicator = (header & 0xe0) | FU_A;
      const type = header & 0x1f;
      const chunk = this.maxPayloadBytes - 2;
      for (let off = 1; off < nal.length; off += chunk) {
        const end = Math.min(off + chunk, nal.length);
        const fu = Buffer.allocUnsafe(2 + end - off);
        fu[0] = indicator;
        fu[1] = (off === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
        nal.copy(fu, 2, off, end);
        out.push({ payload: fu, marker: false });
      }
    }
    if (out.length > 0) out[out.length - 1] = { payload: out[out.length - 1]!.payload, marker: true };
    return out;
  }
}

/** 90 kHz RTP time of a presentation time, relative to a stream's random base, modulo 2^32. */
export function rtpTime(ptsNs: number, base: number): number {
  return (base + Math.round((ptsNs * H264_CLOCK_RATE) / 1e9)) >>> 0;
}

/** The per-receiver side of an RTP stream: SSRC, sequence numbers, timestamp base and counters. */
export class RtpStreamState {
  readonly ssrc: number;
  readonly timestampBase: number;
  private seq: number;
  packetCount = 0;
  octetCount = 0;

  constructor(readonly payloadType = H264_PAYLOAD_TYPE, init?: { ssrc?: number; seq?: number; timestampBase?: number }) {
    const r = randomBytes(10);
    this.ssrc = init?.ssrc ?? r.readUInt32BE(0);
    this.seq = init?.seq ?? r.readUInt16BE(4);
    this.timestampBase = init?.timestampBase ?? r.readUInt32BE(6);
  }

  /** Sequence number the next packet will carry. */
  get nextSequence(): number {
    return this.seq;
  }

  /** The 12-byte header for the next packet; advances the sequence number. */
  header(marker: boolean, timestamp: number, payloadBytes: number): Buffer {
    const h = Buffer.allocUnsafe(RTP_HEADER_BYTES);
    this.writeHeader(h, 0, marker, timestamp, payloadBytes);
    return h;
  }

  /** Writes the next packet's header into `out` at `offset` (no allocation); advances the sequence number. */
  writeHeader(out: Buffer, offset: number, marker: boolean, timestamp: number, payloadBytes: number): void {
    out[offset] = 0x80; // version 2, no padding, no extension, no CSRC
    out[offset + 1] = (marker ? 0x80 : 0) | (this.payloadType & 0x7f);
    out.writeUInt16BE(this.seq, offset + 2);
    out.writeUInt32BE(timestamp >>> 0, offset + 4);
    out.writeUInt32BE(this.ssrc, offset + 8);
    this.seq = (this.seq + 1) & 0xffff;
    this.packetCount++;
    this.octetCount += payloadBytes;
  }
}

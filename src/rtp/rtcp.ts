/**
 * RTCP (RFC 3550 §6): the sender side of a unicast stream. Sender reports tie RTP time to wall-clock
 * (NTP) time so receivers can place frames in real time; SDES carries the CNAME; BYE ends a stream.
 * Receiver reports are parsed only far enough to account for them (keep-alive) and to ignore anything else.
 */

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_APP = 204;

/** Seconds between 1900-01-01 (NTP epoch) and 1970-01-01 (Unix epoch). */
const NTP_UNIX_OFFSET = 2_208_988_800;

/** 64-bit NTP timestamp of an epoch-milliseconds time, as [seconds, fraction]. */
export function ntpTimestamp(epochMs: number): [number, number] {
  const secs = Math.floor(epochMs / 1000);
  const frac = Math.round(((epochMs - secs * 1000) / 1000) * 2 ** 32);
  // Rounding can reach 2^32 for the last sub-millisecond; carry it.
  return frac >= 2 ** 32 ? [(secs + 1 + NTP_UNIX_OFFSET) >>> 0, 0] : [(secs + NTP_UNIX_OFFSET) >>> 0, frac >>> 0];
}

/** Epoch milliseconds of an NTP timestamp (inverse of ntpTimestamp, within the 1900–2036 era). */
export function ntpToEpochMs(seconds: number, fraction: number): number {
  return (seconds - NTP_UNIX_OFFSET) * 1000 + (fraction / 2 ** 32) * 1000;
}

export interface SenderReportInfo {
  ssrc: number;
  /** Wall-clock time the report describes, epoch ms. */
  ntpMs: number;
  /** RTP time of the same instant, in the stream's own timestamp space. */
  rtpTime: number;
  packetCount: number;
  octetCount: number;
}

/** SR with no report blocks (we receive nothing). */
export function senderReport(sr: SenderReportInfo): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80; // V=2, P=0, RC=0
  b[1] = RTCP_SR;
  b.writeUInt16BE(28 / 4 - 1, 2);
  b.writeUInt32BE(sr.ssrc >>> 0, 4);
  const [secs, frac] = ntpTimestamp(sr.ntpMs);
  b.writeUInt32BE(secs, 8);
  b.writeUInt32BE(frac, 12);
  b.writeUInt32BE(sr.rtpTime >>> 0, 16);
  b.writeUInt32BE(sr.packetCount >>> 0, 20);
  b.writeUInt32BE(sr.octetCount >>> 0, 24);
  return b;
}

/** SDES with one chunk carrying the CNAME item. */
export function sdesCname(ssrc: number, cname: string): Buffer {
  const text = Buffer.from(cname, 'utf8').subarray(0, 255);
  // chunk: SSRC, item (type 1, length, text), terminating zero, padded to 32 bits
  const chunkLen = 4 + 2 + text.length + 1;
  const padded = Math.ceil(chunkLen / 4) * 4;
  const b = Buffer.alloc(4 + padded);
  b[0] = 0x81; // V=2, SC=1
  b[1] = RTCP_SDES;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  b[8] = 1; // CNAME
  b[9] = text.length;
  text.copy(b, 10);
  return b;
}

export function bye(ssrc: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x81; // V=2, SC=1
  b[1] = RTCP_BYE;
  b.writeUInt16BE(1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  return b;
}

/** Compound packet SR + SDES, as RFC 3550 §6.1 requires (every compound starts with SR or RR and carries SDES CNAME). */
export function senderReportCompound(sr: SenderReportInfo, cname: string): Buffer {
  return Buffer.concat([senderReport(sr), sdesCname(sr.ssrc, cname)]);
}

export function byeCompound(sr: SenderReportInfo, cname: string): Buffer {
  return Buffer.concat([senderReport(sr), sdesCname(sr.ssrc, cname), bye(sr.ssrc)]);
}

export interface ReportBlock {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  highestSeq: number;
  jitter: number;
}

export interface RtcpPacket {
  type: number;
  /** SSRC of the sender of this packet (0 when too short to hold one). */
  ssrc: number;
  /** Report blocks of SR/RR packets. */
  reports: ReportBlock[];
}

/**
 * Splits a compound RTCP packet into its packets. Returns undefined for anything that is not valid
 * RTCP (wrong version, lengths that overrun), so callers can ignore it without further checks.
 */
export function parseRtcp(buf: Buffer): RtcpPacket[] | undefined {
  const out: RtcpPacket[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 4) return undefined;
    const b0 = buf[off]!;
    if (b0 >> 6 !== 2) return undefined;
    const count = b0 & 0x1f;
    const type = buf[off + 1]!;
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    if (off + len > buf.length) return undefined;
    if (type < 192 || type > 223) return undefined; // not RTCP (RFC 5761 §4 ranges)
    const ssrc = len >= 8 ? buf.readUInt32BE(off + 4) : 0;
    const reports: ReportBlock[] = [];
    if (type === RTCP_SR || type === RTCP_RR) {
      const first = off + (type === RTCP_SR ? 28 : 8);
      for (let i = 0; i < count; i++) {
        const r = first + i * 24;
        if (r + 24 > off + len) return undefined;
        const lost = buf.readUIntBE(r + 5, 3);
        reports.push({
          ssrc: buf.readUInt32BE(r),
          fractionLost: buf[r + 4]! / 256,
          cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost,
          highestSeq: buf.readUInt32BE(r + 8),
          jitter: buf.readUInt32BE(r + 12),
        });
      }
    }
    out.push({ type, ssrc, reports });
    off += len;
  }
  return out.length > 0 ? out : undefined;
}

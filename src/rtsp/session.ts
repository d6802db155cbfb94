/**
 * One RTSP session: one client receiving one mount's video over UDP or over its RTSP connection.
 *
 * Delivery never waits for a client. A client whose backlog is over the limit loses whole access
 * units and then waits for the next keyframe, so it never gets a picture that references one it
 * missed; a client that stays over the limit too long is dropped.
 */
import type dgram from 'node:dgram';
import type { AccessUnit } from '../h264/access-unit.js';
import { RTP_HEADER_BYTES, RtpStreamState, rtpTime, type RtpPayload } from '../rtp/packetizer.js';
import { byeCompound, senderReportCompound } from '../rtp/rtcp.js';
import { formatTcpTransport, formatUdpTransport } from './headers.js';

/** Where a session's packets go. */
export interface RtpTransport {
  readonly kind: 'udp' | 'tcp';
  /** Transport header of the SETUP reply. */
  reply(ssrc: number): string;
  /** Bytes written but not yet handed to the network (the per-client backlog). */
  backlogBytes(): number;
  /** Sends one access unit's payloads as RTP packets of `stream` (headers written here, payloads shared by all clients). */
  sendRtp(stream: RtpStreamState, timestamp: number, payloads: readonly RtpPayload[]): void;
  sendRtcp(packet: Buffer): void;
}

export class UdpTransport implements RtpTransport {
  readonly kind = 'udp';
  constructor(
    private readonly rtp: dgram.Socket,
    private readonly rtcp: dgram.Socket,
    readonly address: string,
    readonly clientPorts: readonly [number, number],
    private readonly serverPorts: readonly [number, number],
  ) {}

  reply(ssrc: number): string {
    return formatUdpTransport(this.clientPorts, this.serverPorts, ssrc);
  }

  backlogBytes(): number {
    // The kernel drops datagrams a receiver does not read, so the only backlog is our own send queue.
    return this.rtp.getSendQueueSize();
  }

  sendRtp(stream: RtpStreamState, timestamp: number, payloads: readonly RtpPayload[]): void {
    for (const { payload, marker } of payloads) {
      // Header and shared payload go out as one datagram without copying the payload.
      this.rtp.send([stream.header(marker, timestamp, payload.length), payload], this.clientPorts[0], this.address, ignore);
    }
  }

  sendRtcp(packet: Buffer): void {
    this.rtcp.send(packet, this.clientPorts[1], this.address, ignore);
  }
}

/** The part of an RTSP connection a TCP transport writes to. */
export interface InterleavedSink {
  writeInterleaved(frame: Buffer): void;
  writableLength(): number;
}

export class TcpTransport implements RtpTransport {
  readonly kind = 'tcp';
  constructor(private readonly conn: InterleavedSink, readonly channels: readonly [number, number]) {}

  reply(ssrc: number): string {
    return formatTcpTransport(this.channels, ssrc);
  }

  backlogBytes(): number {
    return this.conn.writableLength();
  }

  sendRtp(stream: RtpStreamState, timestamp: number, payloads: readonly RtpPayload[]): void {
    // One buffer per access unit, headers written in place: one allocation, one write, one backlog entry.
    let total = 0;
    for (const { payload } of payloads) total += 4 + RTP_HEADER_BYTES + payload.length;
    const out = Buffer.allocUnsafe(total);
    let off = 0;
    for (const { payload, marker } of payloads) {
      out[off] = 0x24;
      out[off + 1] = this.channels[0];
      out.writeUInt16BE(RTP_HEADER_BYTES + payload.length, off + 2);
      stream.writeHeader(out, off + 4, marker, timestamp, payload.length);
      payload.copy(out, off + 4 + RTP_HEADER_BYTES);
      off += 4 + RTP_HEADER_BYTES + payload.length;
    }
    this.conn.writeInterleaved(out);
  }

  sendRtcp(packet: Buffer): void {
    const out = Buffer.allocUnsafe(4 + packet.length);
    out[0] = 0x24;
    out[1] = this.channels[1];
    out.writeUInt16BE(packet.length, 2);
    packet.copy(out, 4);
    this.conn.writeInterleaved(out);
  }
}

function ignore(): void {}

export interface DeliveryPolicy {
  /** Backlog beyond which a client skips access units. */
  maxBacklogBytes: number;
  /** How long a client may stay over the backlog limit before it is dropped, ms. */
  stallTimeoutMs: number;
}

export type SessionState = 'ready' | 'playing' | 'closed';

export interface SessionEvents {
  /** The session needs a keyframe to (re)start decoding. */
  wantKeyframe(session: RtspSession): void;
  /** The session fell too far behind and must be dropped. */
  stalled(session: RtspSession): void;
}

export class RtspSession {
  readonly stream = new RtpStreamState();
  state: SessionState = 'ready';
  /** Last time the client showed it is alive (request or RTCP), ms. */
  lastSeen = Date.now();
  /** Control URL of the track, as the client named it (for RTP-Info). */
  url = '';
  /** Access units this client lost for being slow. */
  dropped = 0;
  private waitingForKeyframe = true;
  private congestedSince = 0;
  private lastRecoveryRequest = 0;
  private lastReportAt = 0;
  private lastSentPtsNs = -1;

  constructor(
    readonly id: string,
    readonly mountPath: string,
    readonly ownerId: number,
    readonly transport: RtpTransport,
    private readonly policy: DeliveryPolicy,
    private readonly events: SessionEvents,
    private readonly cname: string,
  ) {}

  /** True once the client got at least one packet. */
  get started(): boolean {
    return this.lastSentPtsNs >= 0;
  }

  get timeoutApplies(): boolean {
    // A TCP session receiving video lives as long as its connection (a dead peer shows as a
    // stall); UDP sessions, and TCP ones set up but not playing, need keep-alives.
    return this.transport.kind === 'udp' || this.state !== 'playing';
  }

  play(): void {
    if (this.state === 'closed') return;
    if (this.state !== 'playing') this.waitingForKeyframe = true;
    this.state = 'playing';
  }

  pause(): void {
    if (this.state === 'playing') this.state = 'ready';
  }

  /** Sends one access unit, already cut into payloads, unless this client must skip it. */
  deliver(au: AccessUnit, payloads: readonly RtpPayload[], now: number): void {
    if (this.state !== 'playing' || payloads.length === 0) return;
    const backlog = this.transport.backlogBytes();
    if (backlog > this.policy.maxBacklogBytes) {
      if (this.congestedSince === 0) this.congestedSince = now;
      this.dropped++;
      this.waitingForKeyframe = true;
      if (now - this.congestedSince > this.policy.stallTimeoutMs) this.events.stalled(this);
      return;
    }
    if (this.congestedSince !== 0) {
      this.congestedSince = 0;
      // Caught up: ask for a keyframe rather than wait a whole GOP, but not so often that a
      // client flapping at the limit makes the encoder spend the others' bitrate on keyframes.
      if (now - this.lastRecoveryRequest > 5000) {
        this.lastRecoveryRequest = now;
        this.events.wantKeyframe(this);
      }
    }
    if (this.waitingForKeyframe) {
      if (!au.keyframe) return;
      this.waitingForKeyframe = false;
    }
    this.transport.sendRtp(this.stream, rtpTime(au.ptsNs, this.stream.timestampBase), payloads);
    this.lastSentPtsNs = au.ptsNs;
  }

  /** RTP time of the stream now: the RTP-Info rtptime for PLAY. */
  rtpTimeAt(ptsNs: number): number {
    return rtpTime(Math.max(0, ptsNs), this.stream.timestampBase);
  }

  /** Sends an RTCP sender report when one is due (RFC 3550 §6.2: a few seconds apart). */
  maybeReport(now: number, originMs: number, intervalMs: number): void {
    if (this.state !== 'playing' || !this.started) return;
    if (this.lastReportAt !== 0 && now - this.lastReportAt < intervalMs) return;
    this.lastReportAt = now;
    this.transport.sendRtcp(senderReportCompound(this.report(now, originMs), this.cname));
  }

  /** Ends the stream for the client (RTCP BYE) and stops delivery. */
  close(now: number, originMs: number): void {
    if (this.state === 'closed') return;
    if (this.started) {
      try {
        this.transport.sendRtcp(byeCompound(this.report(now, originMs), this.cname));
      } catch {
        // the connection may already be gone
      }
    }
    this.state = 'closed';
  }

  private report(now: number, originMs: number) {
    // RTP time is anchored to capture time (PTS 0 = originMs), so the report maps RTP
    // timestamps to the wall-clock time the frames were captured.
    const ptsNs = Number.isFinite(originMs) ? (now - originMs) * 1e6 : this.lastSentPtsNs;
    return {
      ssrc: this.stream.ssrc,
      ntpMs: now,
      rtpTime: rtpTime(Math.max(0, ptsNs), this.stream.timestampBase),
      packetCount: this.stream.packetCount,
      octetCount: this.stream.octetCount,
    };
  }
}

/**
 * A mount: one live H.264 stream at one path of an RTSPServer. The producer pushes access units;
 * each is packetized once and fanned out to every playing session.
 */
import type { AccessUnit } from '../h264/access-unit.js';
import { H264Packetizer } from '../rtp/packetizer.js';
import { RtspAuthenticator, type RtspAuthOptions } from './auth.js';
import { buildH264Sdp } from './sdp.js';
import type { RtspSession } from './session.js';

export interface MountOptions {
  /** Require these credentials (Digest; Basic over rtsps:// or when schemes asks) for this path; default: the server's auth, if any. */
  auth?: RtspAuthOptions;
  /** Called when a client needs a keyframe (joining, recovering); rate-limited by the mount. */
  onKeyframeRequest?: () => void;
  /** Session name in the SDP. */
  title?: string;
  /** Largest RTP packet, bytes. Default 1400. */
  maxPacketBytes?: number;
}

export interface MountStats {
  /** Sessions receiving video now. */
  clients: number;
  /** Sessions set up, playing or not. */
  sessions: number;
  /** Access units pushed. */
  accessUnits: number;
  /** RTP payload bytes sent, summed over clients. */
  bytesSent: number;
  /** Access units not sent to a client because it was behind, summed over clients. */
  droppedUnits: number;
  /** Clients disconnected for being too slow. */
  droppedClients: number;
  /** Keyframes asked of the producer. */
  keyframeRequests: number;
}

/** What a mount needs from the server it lives on. */
export interface MountHost {
  endSessions(mount: RtspMount, reason: string): void;
}

const KEYFRAME_REQUEST_GAP_MS = 500;

export class RtspMount {
  readonly control = 'track1';
  readonly authenticator: RtspAuthenticator | undefined;
  /** Playing or ready sessions; the server adds and removes them. */
  readonly sessions = new Set<RtspSession>();
  /** Capture time (epoch ms) of PTS 0 of the current stream. */
  originMs = NaN;
  /** PTS of the newest access unit, ns (-1 before the first). */
  lastPtsNs = -1;
  fps: number | undefined;
  sdpVersion = 1;

  private readonly packetizer: H264Packetizer;
  private readonly sdpSessionId = String(Math.floor(Math.random() * 1e12));
  private waiters = new Set<() => void>();
  private lastKeyframeRequest = 0;
  private keyframeTimer: NodeJS.Timeout | undefined;
  private counters = { accessUnits: 0, bytesSent: 0, droppedClients: 0, keyframeRequests: 0, droppedUnitsClosed: 0 };
  private closed = false;

  /** The options minus auth: the password lives only in the authenticator's hashes. */
  private readonly opts: Omit<MountOptions, 'auth'>;

  constructor(
    readonly path: string,
    private readonly host: MountHost,
    { auth: mountAuth, ...opts }: MountOptions,
    serverAuth: RtspAuthOptions | undefined,
  ) {
    this.opts = opts;
    const auth = mountAuth ?? serverAuth;
    this.authenticator = auth ? new RtspAuthenticator(auth) : undefined;
    this.packetizer = new H264Packetizer(opts.maxPacketBytes !== undefined ? { maxPacketBytes: opts.maxPacketBytes } : {});
  }

  /** True once SPS and PPS are known, so DESCRIBE can answer. */
  get ready(): boolean {
    return this.packetizer.sps !== undefined && this.packetizer.pps !== undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sessions receiving video. */
  get clients(): number {
    let n = 0;
    for (const s of this.sessions) if (s.state === 'playing') n++;
    return n;
  }

  /** Announces the parameter sets before the first access unit (optional: they are also taken from the stream). */
  setParameterSets(sps: Buffer, pps: Buffer): void {
    const changed = !sameBuffer(this.packetizer.sps, sps) || !sameBuffer(this.packetizer.pps, pps);
    this.packetizer.setParameterSets(sps, pps);
    if (changed) this.parameterSetsChanged();
  }

  setFrameRate(fps: number | undefined): void {
    this.fps = fps;
  }

  /** Sends one access unit (decode order) to every playing client. */
  pushAccessUnit(au: AccessUnit): void {
    if (this.closed) return;
    const sps = this.packetizer.sps;
    const pps = this.packetizer.pps;
    const payloads = this.packetizer.packetize(au);
    if (!sameBuffer(sps, this.packetizer.sps) || !sameBuffer(pps, this.packetizer.pps)) this.parameterSetsChanged();
    this.counters.accessUnits++;
    this.lastPtsNs = au.ptsNs;
    this.originMs = au.captureMs - au.ptsNs / 1e6;
    if (this.sessions.size === 0) return;
    const now = Date.now();
    let bytes = 0;
    for (const p of payloads) bytes += p.payload.length;
    for (const s of this.sessions) {
      const before = s.stream.octetCount;
      s.deliver(au, payloads, now);
      if (s.stream.octetCount !== before) this.counters.bytesSent += bytes;
    }
  }

  /** The stream ended (producer stopped): clients get RTCP BYE and are disconnected; parameter sets are forgotten. */
  endStream(reason = 'stream ended'): void {
    this.host.endSessions(this, reason);
    this.packetizer.resetParameterSets();
    this.originMs = NaN;
    this.lastPtsNs = -1;
  }

  /** Asks the producer for a keyframe, at most every 500 ms (later requests are folded into one). */
  requestKeyframe(): void {
    if (this.closed || !this.opts.onKeyframeRequest) return;
    const now = Date.now();
    const wait = this.lastKeyframeRequest + KEYFRAME_REQUEST_GAP_MS - now;
    if (wait <= 0) {
      this.fireKeyframeRequest(now);
    } else if (!this.keyframeTimer) {
      this.keyframeTimer = setTimeout(() => {
        this.keyframeTimer = undefined;
        this.fireKeyframeRequest(Date.now());
      }, wait);
      this.keyframeTimer.unref();
    }
  }

  /** Resolves true once parameter sets are known, false after timeoutMs or when the mount closes. */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    if (this.closed || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(this.ready);
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** SDP for DESCRIBE; undefined until parameter sets are known. */
  sdp(originAddress: string): string | undefined {
    const { sps, pps } = this.packetizer;
    if (!sps || !pps) return undefined;
    return buildH264Sdp({
      sessionId: this.sdpSessionId,
      sessionVersion: this.sdpVersion,
      originAddress,
      sessionName: this.opts.title ?? this.path,
      control: this.control,
      sps,
      pps,
      ...(this.fps !== undefined ? { fps: this.fps } : {}),
    });
  }

  noteDroppedClient(): void {
    this.counters.droppedClients++;
  }

  /** Keeps the dropped-unit count of sessions that are gone. */
  noteSessionGone(session: RtspSession): void {
    this.counters.droppedUnitsClosed += session.dropped;
  }

  stats(): MountStats {
    let dropped = this.counters.droppedUnitsClosed;
    for (const s of this.sessions) dropped += s.dropped;
    return {
      clients: this.clients,
      sessions: this.sessions.size,
      accessUnits: this.counters.accessUnits,
      bytesSent: this.counters.bytesSent,
      droppedUnits: dropped,
      droppedClients: this.counters.droppedClients,
      keyframeRequests: this.counters.keyframeRequests,
    };
  }

  /** Called by the server when the mount is removed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keyframeTimer) clearTimeout(this.keyframeTimer);
    this.keyframeTimer = undefined;
    for (const w of [...this.waiters]) w();
  }

  private fireKeyframeRequest(now: number): void {
    this.lastKeyframeRequest = now;
    this.counters.keyframeRequests++;
    try {
      this.opts.onKeyframeRequest?.();
    } catch {
      // the producer's problem; a client just waits for the next natural keyframe
    }
  }

  private parameterSetsChanged(): void {
    this.sdpVersion++;
    if (this.ready) for (const w of [...this.waiters]) w();
  }
}

function sameBuffer(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

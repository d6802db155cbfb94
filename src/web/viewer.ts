/**
 * One browser watching a stream: its WebSocket, the form it decodes (WebCodecs access
 * units or MSE segments), and where it is in the stream. A viewer starts on a keyframe;
 * when its socket backs up it skips to the next keyframe instead of queueing, so a slow
 * viewer costs bounded memory and never holds up the others.
 */
import type { WebSocket } from 'ws';
import type { ViewerMode } from './wire.js';

export interface ViewerLimits {
  /** Bytes queued on the socket above which access units are skipped up to the next keyframe. */
  maxBacklogBytes: number;
  /** A viewer skipping for this long (its backlog never drained) is disconnected, ms. */
  stallTimeoutMs: number;
}

/** 'recovered': caught up after falling behind, waiting for a keyframe it should ask for. */
export type DeliverResult = 'sent' | 'waiting' | 'recovered' | 'skipped' | 'stalled';

/** Least time between keyframe requests of one recovering viewer: one flapping at the limit must not make the encoder spend everyone's bitrate on keyframes. */
const RECOVERY_REQUEST_GAP_MS = 5000;

export class Viewer {
  /** Needs a keyframe before anything else is sent (joined, fell behind, new parameter sets). */
  waitingKeyframe = true;
  /** MSE: the init segment for the current parameter sets went out. */
  initSent = false;
  /** Access units not sent because the viewer was behind. */
  skipped = 0;
  bytesSent = 0;
  /** Over the backlog limit since (0: not over). */
  private overSince = 0;
  /** Waiting for a keyframe because it fell behind (not because it joined). */
  private fellBehind = false;
  private lastRecoveryRequest = -Infinity;

  constructor(
    readonly ws: WebSocket,
    readonly mode: ViewerMode,
    private readonly limits: ViewerLimits,
  ) {}

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** Sends one unit's message (built once for every viewer of this mode), or decides to skip it. */
  deliver(keyframe: boolean, build: () => Buffer, before: (() => Buffer) | undefined, now: number): DeliverResult {
    if (!this.open) return 'skipped';
    const backlog = this.ws.bufferedAmount;
    if (backlog > this.limits.maxBacklogBytes) {
      if (this.overSince === 0) this.overSince = now;
      this.waitingKeyframe = true;
      this.fellBehind = true;
      this.skipped++;
      return now - this.overSince > this.limits.stallTimeoutMs ? 'stalled' : 'skipped';
    }
    this.overSince = 0;
    if (this.waitingKeyframe) {
      if (!keyframe) {
        // Waiting after joining is not skipping; after falling behind it is.
        if (!this.fellBehind) return 'waiting';
        this.skipped++;
        if (now - this.lastRecoveryRequest < RECOVERY_REQUEST_GAP_MS) return 'skipped';
        this.lastRecoveryRequest = now;
        return 'recovered';
      }
      this.waitingKeyframe = false;
      this.fellBehind = false;
    }
    if (before) this.send(before());
    this.send(build());
    return 'sent';
  }

  /**
   * The page dropped pictures on its own (its decoder fell behind or failed) and waits for a
   * keyframe: send nothing until one comes. True when a keyframe request may go to the encoder
   * now; until one comes, deliver() asks again at most every RECOVERY_REQUEST_GAP_MS.
   */
  wantsKeyframe(now: number): boolean {
    this.waitingKeyframe = true;
    this.fellBehind = true;
    if (now - this.lastRecoveryRequest < RECOVERY_REQUEST_GAP_MS) return false;
    this.lastRecoveryRequest = now;
    return true;
  }

  /** Text (JSON) messages; stats are skipped for a viewer that is behind, config never (`force`). */
  sendText(text: string, force = false): void {
    if (this.open && (force || this.ws.bufferedAmount <= this.limits.maxBacklogBytes)) this.ws.send(text);
  }

  private send(msg: Buffer): void {
    this.bytesSent += msg.length;
    this.ws.send(msg, { binary: true });
  }
}

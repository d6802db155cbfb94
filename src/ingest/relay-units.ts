/**
 * A camera's H.264 as destinations take it, with no decoding and no encoding: ring units
 * (Annex-B, SPS/PPS in front of each keyframe) become AccessUnits (NAL units without start
 * codes), and the video's facts come from the stream caps and the SPS.
 */
import type { VideoInfo } from '../destinations/destination.js';
import type { AccessUnit } from '../h264/access-unit.js';
import { NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, nalType, parseSps, splitAnnexB } from '../h264/nal.js';
import type { EncodedRing, EncodedUnit } from './ring-buffer.js';
import type { StreamCaps } from './units.js';

export const H264_CAPS = 'video/x-h264';

/**
 * Ring units → AccessUnits. Keyframes always go out with SPS/PPS in front, so a destination that
 * joins late or reconnects starts clean: a camera that sends its parameter sets once (or only in
 * the SDP) gets the last ones seen re-inserted.
 */
export class RelayUnits {
  private sps: Buffer[] = [];
  private pps: Buffer[] = [];
  /** Keyframes that could not go out: no parameter sets known yet. */
  skipped = 0;

  /** Picture size from the newest SPS (0 until one is seen). */
  width = 0;
  height = 0;

  /**
   * The unit as an AccessUnit (PTS the source's normalized PTS, which starts at 0 and only grows
   * across reconnections; capture time the source's). Undefined for a unit that cannot start a
   * decoder: a keyframe before any parameter set. `remember: false` for history (pre-roll) units,
   * which must not replace newer parameter sets.
   */
  convert(u: EncodedUnit, remember = true): AccessUnit | undefined {
    const nalus = splitAnnexB(u.data);
    if (nalus.length === 0) return undefined;
    const sps = nalus.filter((n) => nalType(n) === NAL_SPS);
    const pps = nalus.filter((n) => nalType(n) === NAL_PPS);
    if (remember) this.remember(sps, pps);
    const keyframe = u.keyframe || nalus.some((n) => nalType(n) === NAL_IDR);
    if (keyframe && (sps.length === 0 || pps.length === 0)) {
      if (this.sps.length === 0 || this.pps.length === 0) {
        this.skipped++;
        return undefined;
      }
      // After an access unit delimiter when there is one: it must stay the unit's first NAL.
      const at = nalType(nalus[0]!) === NAL_AUD ? 1 : 0;
      nalus.splice(at, 0, ...(sps.length ? [] : this.sps), ...(pps.length ? [] : this.pps));
    }
    return { nalus, ptsNs: u.ptsNs, captureMs: u.timestampMs, keyframe };
  }

  private remember(sps: Buffer[], pps: Buffer[]): void {
    if (sps.length) {
      this.sps = sps;
      try {
        const info = parseSps(sps[0]!);
        this.width = info.width;
        this.height = info.height;
      } catch {
        // A SPS we cannot read: the caps' size stands.
      }
    }
    if (pps.length) this.pps = pps;
  }
}

/** "30/1", "30000/1001" for 29.97, "25/1": the GStreamer fraction of a measured rate. */
export function framerateOf(fps: number): string {
  const ntsc = Math.round(fps * 1.001);
  if (Math.abs(fps - ntsc / 1.001) < 0.01 && Math.abs(fps - ntsc) > 0.01) return `${ntsc * 1000}/1001`;
  if (Math.abs(fps - Math.round(fps)) < 0.01) return `${Math.round(fps)}/1`;
  return `${Math.round(fps * 1000)}/1000`;
}

/** When nothing says the rate (RTSP caps carry none and one unit gives no interval). */
const FALLBACK_FPS = 30;

/** The video a relayed destination is opened for: size from the caps or the SPS, rate from the caps or measured. */
export function relayVideoInfo(caps: StreamCaps | undefined, units: RelayUnits, ring: EncodedRing): VideoInfo {
  const width = caps?.width ?? units.width;
  const height = caps?.height ?? units.height;
  const fps = caps?.fps && caps.fps > 0 ? caps.fps : (ring.fps() ?? FALLBACK_FPS);
  const rounded = Math.round(fps * 1000) / 1000;
  return { width, height, fps: rounded, framerate: framerateOf(rounded) };
}

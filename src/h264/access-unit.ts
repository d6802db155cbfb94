/**
 * One encoded H.264 picture as it leaves the encoder: the unit every Node-side
 * destination (RTSP fan-out, KVS PutMedia) works with.
 */
export interface AccessUnit {
  /** NAL units in decode order, without start codes or length prefixes. SPS/PPS included when the encoder sent them. */
  readonly nalus: Buffer[];
  /** Presentation time in nanoseconds since the session origin (PTS 0 is the session's first frame). */
  readonly ptsNs: number;
  /** Capture time of the frame in epoch milliseconds (session origin + ptsNs). */
  readonly captureMs: number;
  /** True when the unit holds an IDR slice: a decoder can start here. */
  readonly keyframe: boolean;
}

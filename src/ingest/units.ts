/**
 * Encoded units as the ring keeps them: H.264 as Annex-B with SPS/PPS in front of every
 * keyframe (so any keyframe starts a decoder on its own), JPEG as is. Converts what readers
 * hand over: avc (length-prefixed, parameter sets in the caps' codec_data) or byte-stream from
 * GStreamer, NAL unit lists from the RTSP depacketizer.
 */
import { parseAvcDecoderConfig, splitLengthPrefixed } from '../h264/avcc.js';
import { NAL_IDR, NAL_PPS, NAL_SPS, nalType, parseSps, splitAnnexB } from '../h264/nal.js';

const START = Buffer.from([0, 0, 0, 1]);

export interface StreamCaps {
  /** Caps name of the encoded stream, e.g. video/x-h264, image/jpeg. */
  codec: string;
  width?: number;
  height?: number;
  fps?: number;
  /** H.264: 'avc' (length-prefixed) or 'byte-stream'. */
  streamFormat?: string;
  codecData?: Buffer;
}

/** Reads the fields we need from a GStreamer caps string (first structure). */
export function parseCaps(caps: string): StreamCaps {
  const codec = caps.split(/[,;]/)[0]!.trim();
  const field = (name: string) => new RegExp(`(?:^|[ ,])${name}=(?:\\([a-z0-9]+\\))?("[^"]*"|[^,;]*)`, 'i').exec(caps)?.[1]?.trim();
  const int = (name: string) => {
    const v = field(name);
    return v === undefined ? undefined : Number.parseInt(v, 10);
  };
  const fr = field('framerate');
  let fps: number | undefined;
  if (fr) {
    const [n, d] = fr.split('/').map(Number);
    if (n && d) fps = n / d;
  }
  const cd = field('codec_data');
  return {
    codec,
    width: int('width'),
    height: int('height'),
    fps,
    streamFormat: field('stream-format'),
    codecData: cd && /^[0-9a-f]+$/i.test(cd) ? Buffer.from(cd, 'hex') : undefined,
  };
}

/** Parameter sets remembered across units, to put in front of keyframes that lack them. */
export class H264Normalizer {
  private sps: Buffer[] = [];
  private pps: Buffer[] = [];
  private lengthSize = 4;
  private avc = false;
  /** Picture size from the newest SPS. */
  width = 0;
  height = 0;

  /** Takes the stream's caps (avc codec_data gives the parameter sets and the length size). */
  setCaps(c: StreamCaps): void {
    this.avc = c.streamFormat === 'avc' || c.streamFormat === 'avc3';
    if (c.codecData && this.avc) {
      try {
        const cfg = parseAvcDecoderConfig(c.codecData);
        this.lengthSize = cfg.lengthSize;
        if (cfg.sps.length) this.setSps(cfg.sps);
        if (cfg.pps.length) this.pps = cfg.pps;
      } catch {
        // A bad codec_data: the stream's own in-band parameter sets may still come.
      }
    }
  }

  setParameterSets(sps: Buffer[], pps: Buffer[]): void {
    if (sps.length) this.setSps(sps);
    if (pps.length) this.pps = pps;
  }

  /** A GStreamer buffer (avc or byte-stream) as an Annex-B unit. */
  fromBuffer(payload: Buffer): { data: Buffer; keyframe: boolean } {
    let nalus: Buffer[];
    try {
      nalus = this.avc ? splitLengthPrefixed(payload, this.lengthSize) : splitAnnexB(payload);
    } catch {
      nalus = [];
    }
    return this.fromNalus(nalus);
  }

  /** NAL units (no start codes) as one Annex-B unit, parameter sets added in front of an IDR that lacks them. */
  fromNalus(nalus: readonly Buffer[]): { data: Buffer; keyframe: boolean } {
    let keyframe = false;
    let hasSps = false;
    let hasPps = false;
    const sps: Buffer[] = [];
    const pps: Buffer[] = [];
    for (const n of nalus) {
      const t = nalType(n);
      if (t === NAL_IDR) keyframe = true;
      else if (t === NAL_SPS) { hasSps = true; sps.push(n); }
      else if (t === NAL_PPS) { hasPps = true; pps.push(n); }
    }
    if (sps.length) this.setSps(sps);
    if (pps.length) this.pps = pps;
    const parts: Buffer[] = [];
    if (keyframe && !hasSps) for (const s of this.sps) parts.push(START, s);
    if (keyframe && !hasPps) for (const p of this.pps) parts.push(START, p);
    for (const n of nalus) parts.push(START, n);
    return { data: Buffer.concat(parts), keyframe };
  }

  private setSps(sps: Buffer[]): void {
    this.sps = sps.map((s) => Buffer.from(s));
    try {
      const info = parseSps(sps[0]!);
      this.width = info.width;
      this.height = info.height;
    } catch {
      // size unknown until the decoder says
    }
  }
}

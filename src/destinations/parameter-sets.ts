// A new connection's first keyframe must carry SPS and PPS: h264parse builds the container's
// codec data from them and drops pictures until it has them. Encoders here repeat them before
// every IDR, but a relayed camera may send them once per session: the last ones seen are kept
// and put in front of a keyframe that starts a connection without them.
import type { AccessUnit } from '../h264/access-unit.js';
import { NAL_PPS, NAL_SPS, nalType } from '../h264/nal.js';

export class ParameterSets {
  private sps: Buffer | undefined;
  private pps: Buffer | undefined;

  /** Remembers the SPS/PPS `au` carries. */
  see(au: AccessUnit): void {
    for (const n of au.nalus) {
      const t = nalType(n);
      if (t === NAL_SPS) this.sps = n;
      else if (t === NAL_PPS) this.pps = n;
    }
  }

  /** `au` with the remembered SPS/PPS in front when it has none of its own (and they are known). */
  complete(au: AccessUnit): AccessUnit {
    if (!this.sps || !this.pps || au.nalus.some((n) => nalType(n) === NAL_SPS)) return au;
    return { ...au, nalus: [this.sps, this.pps, ...au.nalus] };
  }

  /** A new stream (new encoder session): what was kept may not fit it. */
  clear(): void {
    this.sps = undefined;
    this.pps = undefined;
  }
}

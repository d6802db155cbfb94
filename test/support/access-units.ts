// Encoded test clips as the library sees them: an Annex B stream cut into AccessUnits.
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { NAL_AUD, NAL_IDR, nalType, splitAnnexB } from '../../src/h264/nal.js';

/**
 * Cuts an Annex B stream whose pictures each start with an access unit delimiter (x264 aud=1)
 * into access units at a constant frame rate, PTS 0 captured at originMs.
 */
export function accessUnitsOf(stream: Buffer, fps: number, originMs = 0): AccessUnit[] {
  const aus: AccessUnit[] = [];
  let current: Buffer[] = [];
  const flush = (): void => {
    if (current.length === 0) return;
    const ptsNs = Math.round((aus.length * 1e9) / fps);
    aus.push({ nalus: current, ptsNs, captureMs: originMs + ptsNs / 1e6, keyframe: current.some((n) => nalType(n) === NAL_IDR) });
    current = [];
  };
  for (const nal of splitAnnexB(stream)) {
    if (nalType(nal) === NAL_AUD) flush();
    current.push(nal);
  }
  flush();
  return aus;
}

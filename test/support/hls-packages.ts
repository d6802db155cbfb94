// The npm packages the HLS tests check against: m3u8-parser (video.js's playlist parser, which
// warns on what it cannot take), hls-parser in strict mode (throws on what RFC 8216bis forbids,
// low-latency rules included) and hls.js (the player, served to Chromium): devDependencies.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const requireFrom = createRequire(import.meta.url);

/** Undefined when both packages load, else why not (for requireTool). */
export function hlsPackagesPresent(): boolean {
  try {
    requireFrom.resolve('m3u8-parser');
    requireFrom.resolve('hls-parser');
    return existsSync(hlsJsFile());
  } catch {
    return false;
  }
}

export const HLS_PACKAGES_INSTALL = 'npm install --save-dev m3u8-parser@7.2.0 hls-parser@0.16.1 hls.js@1.7.4';

export interface ParsedPlaylist {
  manifest: {
    version?: number;
    targetDuration?: number;
    mediaSequence?: number;
    discontinuitySequence?: number;
    endList?: boolean;
    partTargetDuration?: number;
    serverControl?: { canBlockReload?: boolean; partHoldBack?: number; holdBack?: number };
    segments: Array<{ uri: string; duration: number; map?: { uri: string }; programDateTime?: number; discontinuity?: boolean; parts?: Array<{ uri: string; duration: number; independent?: boolean }> }>;
    preloadSegment?: { parts?: Array<{ uri: string; duration: number; independent?: boolean }>; preloadHints?: Array<{ type: string; uri: string }> };
  };
  /** What the parser warned about: each is a playlist the spec does not allow. */
  warnings: string[];
}

/** Parses a media playlist with m3u8-parser, keeping its warnings. */
export function parseM3u8(text: string): ParsedPlaylist {
  const { Parser } = requireFrom('m3u8-parser') as { Parser: new () => { on(e: string, f: (x: { message: string }) => void): void; push(s: string): void; end(): void; manifest: ParsedPlaylist['manifest'] } };
  const p = new Parser();
  const warnings: string[] = [];
  p.on('warn', (w) => warnings.push(w.message));
  p.push(text);
  p.end();
  const strict = requireFrom('hls-parser') as { setOptions(o: object): void; parse(s: string): unknown };
  strict.setOptions({ strictMode: true, silent: true });
  try {
    strict.parse(text);
  } catch (err) {
    warnings.push(`hls-parser: ${(err as Error).message}`);
  }
  return { manifest: p.manifest, warnings };
}

/** hls.js's browser build (UMD: defines window.Hls). */
export function hlsJsFile(): string {
  return join(dirname(requireFrom.resolve('hls.js/package.json')), 'dist', 'hls.min.js');
}

/**
 * RFC 8216bis rules the parser does not check, on its parsed manifest: durations against
 * EXT-X-TARGETDURATION and PART-TARGET, PART-HOLD-BACK, a preload hint while live, parts
 * adding up to their segment. Empty when the playlist keeps them all.
 */
export function specProblems(p: ParsedPlaylist): string[] {
  const m = p.manifest;
  const out = [...p.warnings];
  const target = m.targetDuration ?? 0;
  const partTarget = m.partTargetDuration ?? 0;
  const lowLatency = m.partTargetDuration !== undefined;
  if (!Number.isInteger(target) || target < 1) out.push(`EXT-X-TARGETDURATION ${target}`);
  if (lowLatency && m.serverControl?.canBlockReload !== true) out.push('low latency without CAN-BLOCK-RELOAD=YES');
  if (lowLatency && (m.serverControl?.partHoldBack ?? 0) < 2 * partTarget) out.push(`PART-HOLD-BACK ${m.serverControl?.partHoldBack} < 2 x ${partTarget}`);
  for (const s of m.segments) {
    if (Math.round(s.duration) > target) out.push(`${s.uri}: EXTINF ${s.duration} over ${target}`);
    if (s.programDateTime === undefined) out.push(`${s.uri}: no EXT-X-PROGRAM-DATE-TIME`);
    if (!s.map?.uri) out.push(`${s.uri}: no EXT-X-MAP`);
    const sum = (s.parts ?? []).reduce((n, x) => n + x.duration, 0);
    if (s.parts && s.parts.length > 0 && Math.abs(sum - s.duration) > 0.002 * s.parts.length) out.push(`${s.uri}: parts add up to ${sum}, EXTINF ${s.duration}`);
  }
  if (!lowLatency && (parts0(m) > 0 || m.preloadSegment?.preloadHints)) out.push('parts without EXT-X-PART-INF');
  const parts = [...m.segments.flatMap((s) => s.parts ?? []), ...(m.preloadSegment?.parts ?? [])];
  for (const x of parts) if (x.duration > partTarget + 0.0005) out.push(`${x.uri}: part ${x.duration} over PART-TARGET ${partTarget}`);
  if (lowLatency && !m.endList && (m.preloadSegment?.preloadHints ?? []).filter((h) => h.type === 'PART').length !== 1) out.push('live, but not one EXT-X-PRELOAD-HINT TYPE=PART');
  return out;
}

function parts0(m: ParsedPlaylist['manifest']): number {
  return m.segments.reduce((n, s) => n + (s.parts?.length ?? 0), 0) + (m.preloadSegment?.parts?.length ?? 0);
}

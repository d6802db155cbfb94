/**
 * The low-latency HLS media playlist (RFC 8216bis, "HTTP Live Streaming 2nd Edition"), as a pure
 * function of the window: no clock, no I/O, so every rule is checked by case tables
 * (test/hls/playlist.test.ts). The live state that feeds it is src/hls/live-window.ts.
 *
 * Rules followed (section numbers of draft-pantos-hls-rfc8216bis):
 * - 4.4.3.1 EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer is at most it.
 * - 4.4.3.7 EXT-X-PART-INF: every part is at most PART-TARGET long, and all but the last of
 *   a segment at least 85% of it (the live window cuts them so).
 * - 4.4.3.8 EXT-X-SERVER-CONTROL: PART-HOLD-BACK at least twice PART-TARGET (we use three
 *   times, the SHOULD), CAN-BLOCK-RELOAD=YES: low-latency playlists only where the server
 *   answers _HLS_msn/_HLS_part (Appendix B); static files get plain HLS.
 * - 4.4.4.9 EXT-X-PART: parts of the last segments, within three target durations of the end; the
 *   open segment's parts come after its completed ones, with no EXTINF yet.
 * - 4.4.5.3 EXT-X-PRELOAD-HINT: the part that comes next, at most one per type.
 * - 4.4.3.3 EXT-X-DISCONTINUITY-SEQUENCE counts discontinuities that slid out of the window.
 */

export interface PlaylistPart {
  uri: string;
  durationS: number;
  /** Starts with a keyframe: a player can begin decoding here. */
  independent: boolean;
}

export interface PlaylistSegment {
  /** Media sequence number. */
  msn: number;
  /** The whole segment's URI; unused while it is open. */
  uri: string;
  /** Complete: all its parts are known and it has an EXTINF. The last segment may be open. */
  complete: boolean;
  parts: PlaylistPart[];
  /** Wall-clock time of its first frame (capture time), epoch ms. */
  programDateTimeMs: number;
  /** Init segment (EXT-X-MAP) the segment's samples need. */
  mapUri: string;
  /** A new stream starts here (new encoder session): timestamps and parameter sets may change. */
  discontinuity: boolean;
}

export interface MediaPlaylist {
  /** Integer seconds, fixed for the playlist's life. */
  targetDurationS: number;
  partTargetS: number;
  /** Three times partTargetS unless given. */
  partHoldBackS?: number;
  /**
   * Low-latency HLS: parts, PART-INF, SERVER-CONTROL with blocking reload, the preload hint.
   * False: plain HLS of whole segments (static files, which cannot block: RFC 8216bis
   * Appendix B makes blocking reload part of every low-latency playlist).
   */
  lowLatency: boolean;
  /** Discontinuities before the first listed segment. */
  discontinuitySequence: number;
  /** Oldest first; only the last may be open. */
  segments: PlaylistSegment[];
  /** URI of the part that comes next (EXT-X-PRELOAD-HINT), while the stream runs. */
  preloadHintUri?: string;
  /** The stream ended: EXT-X-ENDLIST, no hint. */
  ended: boolean;
}

/** Playlist version: 9 is what EXT-X-SKIP would need; parts work from 6. Kept at 9 as players expect of LL-HLS. */
export const PLAYLIST_VERSION = 9;

/** Durations with millisecond precision: enough for 90 kHz frames and stable across runs. */
export function formatDuration(s: number): string {
  return (Math.round(s * 1000) / 1000).toFixed(3).replace(/\.?0+$/, '') || '0';
}

function quoted(uri: string): string {
  if (/["\r\n]/.test(uri)) throw new RangeError(`a playlist URI may not contain quotes or newlines: ${JSON.stringify(uri)}`);
  return `"${uri}"`;
}

/** The Advance Part Limit (6.2.5.2): how far ahead of the last part a blocking request may reach. */
export function advancePartLimit(partTargetS: number): number {
  return partTargetS < 1 ? Math.floor(3 / partTargetS) : 3;
}

export function renderMediaPlaylist(p: MediaPlaylist): string {
  validate(p);
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${PLAYLIST_VERSION}`, `#EXT-X-TARGETDURATION:${p.targetDurationS}`];
  if (p.lowLatency) {
    const holdBack = p.partHoldBackS ?? 3 * p.partTargetS;
    lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${formatDuration(holdBack)}`);
    lines.push(`#EXT-X-PART-INF:PART-TARGET=${formatDuration(p.partTargetS)}`);
  }
  const first = p.segments[0];
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${first ? first.msn : 0}`);
  if (p.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${p.discontinuitySequence}`);

  // Parts are listed for the open segment and at most two complete ones before it, those that
  // start within three target durations of the end (at exactly three they may go: they do).
  // Segments shorter than the target would otherwise list more; validators (hls-parser's
  // strict mode) count three segments, and players need only the parts near the live edge.
  let fromEnd = 0;
  let partsFrom = p.segments.length;
  let complete = 0;
  for (let i = p.segments.length - 1; i >= 0; i--) {
    const s = p.segments[i]!;
    fromEnd += segmentDuration(s);
    if (fromEnd >= 3 * p.targetDurationS - 1e-6 || (s.complete && ++complete > 2)) break;
    partsFrom = i;
  }

  let map: string | undefined;
  p.segments.forEach((s, i) => {
    if (!s.complete && !p.lowLatency) return; // plain HLS lists whole segments only
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (s.mapUri !== map) {
      lines.push(`#EXT-X-MAP:URI=${quoted(s.mapUri)}`);
      map = s.mapUri;
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTimeMs).toISOString()}`);
    if (p.lowLatency && (i >= partsFrom || !s.complete)) {
      for (const part of s.parts) {
        lines.push(`#EXT-X-PART:DURATION=${formatDuration(part.durationS)},URI=${quoted(part.uri)}${part.independent ? ',INDEPENDENT=YES' : ''}`);
      }
    }
    if (s.complete) lines.push(`#EXTINF:${formatDuration(segmentDuration(s))},`, s.uri);
  });
  if (p.ended) lines.push('#EXT-X-ENDLIST');
  else if (p.lowLatency && p.preloadHintUri !== undefined) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI=${quoted(p.preloadHintUri)}`);
  return `${lines.join('\n')}\n`;
}

export function segmentDuration(s: PlaylistSegment): number {
  let d = 0;
  for (const part of s.parts) d += part.durationS;
  return d;
}

/** Structure the generator cannot write (a bug of the caller's, caught before a player sees it). */
function validate(p: MediaPlaylist): void {
  if (!Number.isInteger(p.targetDurationS) || p.targetDurationS < 1) throw new RangeError(`target duration must be a positive integer, got ${p.targetDurationS}`);
  if (!(p.partTargetS > 0) || p.partTargetS > p.targetDurationS) throw new RangeError(`part target must be in (0, target duration], got ${p.partTargetS}`);
  if (p.partHoldBackS !== undefined && p.partHoldBackS < 2 * p.partTargetS) throw new RangeError('PART-HOLD-BACK must be at least twice PART-TARGET');
  p.segments.forEach((s, i) => {
    if (!s.complete && i !== p.segments.length - 1) throw new RangeError(`segment ${s.msn} is open but not the last`);
    if (i > 0 && s.msn !== p.segments[i - 1]!.msn + 1) throw new RangeError(`media sequence numbers must follow each other (${p.segments[i - 1]!.msn}, ${s.msn})`);
    if (/[\r\n]/.test(s.uri)) throw new RangeError(`a segment URI may not contain a newline: ${JSON.stringify(s.uri)}`);
    if (s.complete && s.parts.length === 0) throw new RangeError(`segment ${s.msn} has no parts`);
  });
}

/**
 * Durations the spec forbids (4.4.3.1, 4.4.3.7): said, not thrown, because live timestamps
 * jitter and a late frame must not stop the stream. The tests require none.
 */
export function durationViolations(p: MediaPlaylist): string[] {
  const out: string[] = [];
  for (const s of p.segments) {
    if (s.complete && Math.round(segmentDuration(s)) > p.targetDurationS) out.push(`segment ${s.msn} lasts ${segmentDuration(s)} s, over the target duration ${p.targetDurationS}`);
    // Half a millisecond of slack: durations are printed to the millisecond.
    if (p.lowLatency) for (const part of s.parts) if (part.durationS > p.partTargetS + 0.0005) out.push(`part ${part.uri} lasts ${part.durationS} s, over PART-TARGET ${p.partTargetS}`);
  }
  return out;
}

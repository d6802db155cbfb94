/**
 * HTTP answers for one HLS stream (mounted on the WebServer by src/web/file-mount.ts): the
 * playlist with blocking reload (RFC 8216bis 6.2.5.2), the init segment, segments and parts.
 * - `_HLS_msn=M[&_HLS_part=P]` is held until segment M has part P (or, without P, is
 *   complete), at most three target durations, then 503; `_HLS_part` alone, or a request more
 *   than two segments or the Advance Part Limit ahead, gets 400 at once.
 * - A part that is next (the preload hint) or a little ahead is held until it exists, so a
 *   player or CDN asking early gets it the moment it is cut.
 * Caching, for a CDN in front: segments, parts and init never change under their names (a
 * random tag per stream), so they are cacheable for as long as they are kept; a playlist
 * without query parameters is not cached; a blocking-reload answer is cacheable by its URL,
 * since a later copy of it is still a right answer to that request.
 */
import type { FileReply } from '../web/file-mount.js';
import type { LiveWindow } from './live-window.js';

export const PLAYLIST_NAME = 'index.m3u8';
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

export interface HlsRouteOptions {
  /** Credentials guard the stream: no shared cache may keep what it serves. */
  private: boolean;
  /** Counted here (HlsDestination.hlsStats()). */
  counters: HlsRequestCounters;
}

export interface HlsRequestCounters {
  /** Playlist requests, blocking ones included. */
  playlists: number;
  /** Playlist requests with _HLS_msn answered with the part they waited for. */
  blockingReloads: number;
  /** Requests refused as too far ahead, or malformed (400). */
  badRequests: number;
  /** Blocking requests whose part did not come in time (503). */
  timeouts: number;
  /** Segment, part and init files sent. */
  files: number;
}

const TEXT = { 'Content-Type': 'text/plain' };

/** The answer to GET `<path>/<name>`; `window()` is the stream now (undefined: not started yet). */
export async function hlsReply(window: LiveWindow | undefined, name: string, query: URLSearchParams, o: HlsRouteOptions): Promise<FileReply> {
  if (!window) return { status: 503, body: 'stream not started\n', headers: { 'Retry-After': '1', ...TEXT } };
  const scope = o.private ? 'private' : 'public';
  const waitMs = 3 * window.targetDurationS * 1000;
  const c = o.counters;
  if (name === PLAYLIST_NAME) {
    c.playlists++;
    const r = await playlistReply(window, query, scope, waitMs);
    if (r.status === 400) c.badRequests++;
    if (r.status === 503) c.timeouts++;
    if (r.status === 200 && query.has('_HLS_msn')) c.blockingReloads++;
    return r;
  }
  const type = name.endsWith('.m3u8') ? PLAYLIST_TYPE : 'video/mp4';
  const cached = { 'Content-Type': type, 'Cache-Control': `${scope}, max-age=${Math.ceil(4 * window.targetDurationS * window.windowSegments)}` };
  const now = window.file(name);
  if (now) {
    c.files++;
    return { status: 200, body: now, headers: cached };
  }
  const index = window.partIndexOf(name);
  if (index !== undefined && index >= window.nextPartIndex && index - window.nextPartIndex < window.advancePartLimit) {
    await window.waitUntil(() => window.file(name) !== undefined || window.nextPartIndex > index, waitMs);
    const later = window.file(name);
    if (later) {
      c.files++;
      return { status: 200, body: later, headers: cached };
    }
  }
  return { status: 404, body: 'no such file (it may have left the window)\n', headers: TEXT };
}

async function playlistReply(w: LiveWindow, query: URLSearchParams, scope: string, waitMs: number): Promise<FileReply> {
  const msnParam = query.get('_HLS_msn');
  const partParam = query.get('_HLS_part');
  const type = { 'Content-Type': PLAYLIST_TYPE };
  if (msnParam === null) {
    if (partParam !== null) return { status: 400, body: '_HLS_part needs _HLS_msn\n', headers: TEXT };
    // Nothing cut yet (the stream is starting): wait for the first part rather than send an empty list.
    if (!(await w.waitUntil(() => w.live.msn >= 0, waitMs))) return { status: 503, body: 'no video yet\n', headers: { 'Retry-After': '1', ...TEXT } };
    return { status: 200, body: w.playlist(), headers: { ...type, 'Cache-Control': 'no-cache' } };
  }
  const msn = parseIndex(msnParam);
  const part = partParam === null ? undefined : parseIndex(partParam);
  if (msn === null || part === null) return { status: 400, body: '_HLS_msn and _HLS_part are non-negative integers\n', headers: TEXT };
  const live = w.live;
  if (msn > live.msn + 2) return { status: 400, body: '_HLS_msn is too far ahead\n', headers: TEXT };
  if (part !== undefined) {
    // How many parts past the last one the request reaches, taking later segments at their target length.
    const ahead = (msn - live.msn) * w.partsPerSegment + part - (live.parts - 1);
    if (msn >= live.msn && ahead > w.advancePartLimit) return { status: 400, body: '_HLS_part is too far ahead\n', headers: TEXT };
  }
  const ready = () => {
    const l = w.live;
    return l.msn > msn || (l.msn === msn && (part === undefined ? l.complete : l.parts > part));
  };
  if (!(await w.waitUntil(ready, waitMs)) && !w.ended) return { status: 503, body: 'the requested part did not come in time\n', headers: { 'Retry-After': '1', ...TEXT } };
  return { status: 200, body: w.playlist(), headers: { ...type, 'Cache-Control': `${scope}, max-age=${Math.ceil(w.targetDurationS * w.windowSegments)}` } };
}

/** A decimal index, or null when it is not one. */
function parseIndex(v: string): number | null {
  return /^\d{1,12}$/.test(v) ? Number(v) : null;
}

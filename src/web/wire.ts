/**
 * What travels over the preview's WebSocket. Server to page: JSON text messages for
 * control (config, stats, pong, end) and binary messages for video, each one access unit
 * with a fixed 20-byte header:
 *
 *   0  kind      1 = access unit for WebCodecs (length-prefixed NAL units, avcC form)
 *                2 = MSE init segment (ftyp + moov)   3 = MSE media segment (moof + mdat)
 *   1  flags     bit 0: keyframe
 *   2  reserved  (2 bytes, 0)
 *   4  capture   float64, epoch ms: when the frame was captured (put())
 *   12 pts       float64, µs since the session's first frame
 *   20 payload
 *
 * Page to server: `{"type":"ping","t":<number>}` (clock offset and round trip) or
 * `{"type":"keyframe"}` (the page dropped pictures and waits for a keyframe).
 */

export const HEADER_BYTES = 20;
export const KIND_ACCESS_UNIT = 1;
export const KIND_INIT_SEGMENT = 2;
export const KIND_MEDIA_SEGMENT = 3;
export const FLAG_KEYFRAME = 1;

export type ViewerMode = 'webcodecs' | 'mse';
export const VIEWER_MODES: readonly ViewerMode[] = ['webcodecs', 'mse'];

export interface VideoHeader {
  kind: number;
  keyframe: boolean;
  captureMs: number;
  ptsUs: number;
}

/** One binary message: header then payload, in a single allocation. */
export function videoMessage(kind: number, keyframe: boolean, captureMs: number, ptsUs: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out[0] = kind;
  out[1] = keyframe ? FLAG_KEYFRAME : 0;
  out.writeUInt16BE(0, 2);
  out.writeDoubleBE(captureMs, 4);
  out.writeDoubleBE(ptsUs, 12);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Reads a binary message's header; undefined when it is too short or of an unknown kind. */
export function readVideoHeader(msg: Uint8Array): VideoHeader | undefined {
  if (msg.length < HEADER_BYTES) return undefined;
  const kind = msg[0]!;
  if (kind < KIND_ACCESS_UNIT || kind > KIND_MEDIA_SEGMENT) return undefined;
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  return { kind, keyframe: (msg[1]! & FLAG_KEYFRAME) !== 0, captureMs: view.getFloat64(4), ptsUs: view.getFloat64(12) };
}

/** The stream's decoder setup, sent on joining and whenever the parameter sets change. */
export interface ConfigMessage {
  type: 'config';
  name: string;
  /** avc1.PPCCLL */
  codec: string;
  width: number;
  height: number;
  fps: number | null;
  /** avcC, base64: the WebCodecs description. */
  description: string;
}

export interface StatsMessage {
  type: 'stats';
  viewers: number;
  fps: number;
  kbps: number;
}

export interface PongMessage {
  type: 'pong';
  t: number;
  /** Server clock, epoch ms, when answering. */
  now: number;
}

export interface EndMessage {
  type: 'end';
  reason: string;
}

export type ServerMessage = ConfigMessage | StatsMessage | PongMessage | EndMessage;

/**
 * Page to server: a ping (clock offset and round trip), or a request for a keyframe from a page
 * that dropped pictures on its own (decoder behind or failed) and waits for one to restart.
 */
export type ClientMessage = { type: 'ping'; t: number } | { type: 'keyframe' };

/** Longest client message we read: a ping is about 40 bytes. */
export const MAX_CLIENT_MESSAGE_BYTES = 256;

export type ParsedClientMessage = { ok: true; message: ClientMessage } | { ok: false; error: string };

/** Parses what a page sent; never throws, names what was expected and what came. */
export function parseClientMessage(data: Uint8Array | string, isBinary: boolean): ParsedClientMessage {
  if (isBinary) return { ok: false, error: `expected a JSON text message, got ${data.length} bytes of binary` };
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  if (text.length > MAX_CLIENT_MESSAGE_BYTES) return { ok: false, error: `expected at most ${MAX_CLIENT_MESSAGE_BYTES} bytes, got ${text.length}` };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, error: 'expected JSON, got text that does not parse' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: `expected a JSON object, got ${Array.isArray(v) ? 'an array' : typeof v}` };
  const o = v as Record<string, unknown>;
  if (o['type'] === 'keyframe') return { ok: true, message: { type: 'keyframe' } };
  if (o['type'] !== 'ping') return { ok: false, error: `expected type "ping" or "keyframe", got ${JSON.stringify(o['type'])?.slice(0, 40) ?? 'none'}` };
  const t = o['t'];
  if (typeof t !== 'number' || !Number.isFinite(t)) return { ok: false, error: 'expected a finite number t in the ping' };
  return { ok: true, message: { type: 'ping', t } };
}

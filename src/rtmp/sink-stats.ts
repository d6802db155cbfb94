/**
 * rtmp2sink's `stats` property, as the binding hands it over: the GstStructure
 * serialized to text, e.g.
 *   GstRtmpConnectionStats, in-chunk-size=(uint)4096, out-chunk-size=(uint)128, ...,
 *   out-bytes-total=(guint64)24239, out-bytes-acked=(guint64)0;
 * All fields are zero while there is no connection; the sink only keeps a
 * connection once the relay has answered the publish with NetStream.Publish.Start.
 */

export interface RtmpConnectionStats {
  /** True while the sink holds a publishing connection. */
  connected: boolean;
  /** Bytes written to this connection (FLV tags and RTMP framing). */
  outBytesTotal: number;
  /** Bytes the relay acknowledged (relays ack per window, often every few MB). */
  outBytesAcked: number;
  inBytesTotal: number;
  outChunkSize: number;
}

const FIELD_RE = /([a-z][a-z0-9-]*)=\((?:g?u?int(?:64)?|uint|int)\)(\d+)/g;

/** Parse the text form; undefined when it is not a GstRtmpConnectionStats structure. */
export function parseRtmpStats(text: unknown): RtmpConnectionStats | undefined {
  if (typeof text !== 'string' || !text.startsWith('GstRtmpConnectionStats')) return undefined;
  const f = new Map<string, number>();
  for (const m of text.matchAll(FIELD_RE)) f.set(m[1], Number(m[2]));
  const outChunkSize = f.get('out-chunk-size') ?? 0;
  const outBytesTotal = f.get('out-bytes-total') ?? 0;
  return {
    // A live connection has negotiated chunk sizes; the null stats are all zero.
    connected: outChunkSize > 0 || outBytesTotal > 0,
    outBytesTotal,
    outBytesAcked: f.get('out-bytes-acked') ?? 0,
    inBytesTotal: f.get('in-bytes-total') ?? 0,
    outChunkSize,
  };
}

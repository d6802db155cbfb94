/**
 * What can go wrong when reading a source, as codes an application can act on. One table maps
 * GStreamer's and RTSP's own signals to a code and to whether retrying can help.
 */

export type SourceErrorCode =
  /** Nothing answers at host:port, the host does not resolve, or the connection timed out. */
  | 'UNREACHABLE'
  /** The server wants credentials, or refused the ones given. */
  | 'UNAUTHORIZED'
  /** The server, file or device exists but has no such stream / path. */
  | 'NOT_FOUND'
  /** A stream came, but in a codec LiveSource does not decode. */
  | 'UNSUPPORTED_CODEC'
  /** What came is not a media stream (an HTML page, garbage, a text file). */
  | 'NOT_A_STREAM'
  /** rtsps://: the server's TLS certificate is not trusted (self-signed, expired, another name). */
  | 'UNTRUSTED_CERTIFICATE'
  /** The server answered, but broke its protocol. */
  | 'PROTOCOL_ERROR'
  /** The stream stopped: connection lost mid-stream, or no data within the watchdog time. */
  | 'STREAM_LOST'
  /** A file source reached its end. */
  | 'END_OF_STREAM'
  /** A URL or option LiveSource cannot use. */
  | 'BAD_URL'
  | 'ERROR';

export class SourceError extends Error {
  constructor(
    readonly code: SourceErrorCode,
    message: string,
    /** False when retrying cannot help (bad URL, unsupported codec, not a stream). */
    readonly retryable = code !== 'BAD_URL' && code !== 'UNSUPPORTED_CODEC' && code !== 'NOT_A_STREAM' && code !== 'END_OF_STREAM' && code !== 'UNTRUSTED_CERTIFICATE',
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/**
 * [pattern over GStreamer's message and debug text, code, what it means]. First match wins.
 * Status numbers are matched as whole words: the text carries URLs, whose ports may hold them.
 */
const GST_PATTERNS: Array<[RegExp, SourceErrorCode, string]> = [
  [/unauthori[sz]ed|\b401\b|forbidden|\b403\b|authenticat|not authorized|permission denied|NetConnection\.Connect\.Rejected/i, 'UNAUTHORIZED', 'the server refused the credentials (or wants some)'],
  [/not found|\b404\b|no such file|does not exist|resource not found|NetStream\.Play\.StreamNotFound|could not open file .* for reading/i, 'NOT_FOUND', 'no such stream, file or device'],
  [/connection refused|could not resolve|name or service not known|host not found|unreachable|timed out|timeout|could not connect|failed to connect|socket|no route/i, 'UNREACHABLE', 'the server cannot be reached'],
  [/not-linked|text file|cannot parse|could not determine type of stream|typefind|no suitable plugins|not.*(a|an) (valid )?(stream|media)|could not demultiplex|stream contains no data|missing plugin|no decoder|not-negotiated|internal data stream error.*negotiat/i, 'NOT_A_STREAM', 'this is not a media stream LiveSource can read'],
  [/handshake|protocol|malformed|invalid|unexpected|parse/i, 'PROTOCOL_ERROR', 'the server does not speak the expected protocol'],
];

/** A SourceError for a GStreamer error message (secrets must already be scrubbed from `text`). */
export function classifyGstError(text: string): SourceError {
  for (const [re, code, meaning] of GST_PATTERNS) if (re.test(text)) return new SourceError(code, `${meaning}: ${text}`);
  return new SourceError('ERROR', text);
}

/** A SourceError for an RTSP status code answered to `method`. */
export function rtspStatusError(status: number, method: string, reason: string): SourceError {
  const what = `RTSP ${method} answered ${status}${reason ? ` ${reason}` : ''}`;
  if (status === 401 || status === 403) return new SourceError('UNAUTHORIZED', `${what}: the server refused the credentials (or wants some)`);
  if (status === 404) return new SourceError('NOT_FOUND', `${what}: no stream at that path`);
  if (status === 415 || status === 461) return new SourceError('UNSUPPORTED_CODEC', `${what}: the server offers nothing LiveSource can take`);
  return new SourceError('PROTOCOL_ERROR', what, status >= 500);
}

/** Codecs LiveSource decodes, by the caps name of the encoded stream. */
export const DECODABLE_CAPS = new Set(['video/x-h264', 'image/jpeg']);

export function unsupportedCodec(caps: string): SourceError {
  const name = caps.split(',')[0]!.trim();
  return new SourceError('UNSUPPORTED_CODEC', `the stream is ${name}; LiveSource decodes ${[...DECODABLE_CAPS].join(' and ')}`);
}

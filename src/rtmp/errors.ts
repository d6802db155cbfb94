/**
 * What went wrong with an RTMP publish, from the texts rtmp2sink/rtmpsink put in
 * their GStreamer errors, in words a user can act on. Every text shown passes
 * through maskSecrets first: GStreamer errors may quote the location URL.
 */
import { GstError } from '../gst/pipeline.js';
import { maskSecrets, type RtmpTarget } from './url.js';

export type RtmpErrorCode =
  /** Nothing listens at host:port (relay down or restarting). */
  | 'RTMP_CONNECTION_REFUSED'
  /** The host name does not resolve. */
  | 'RTMP_HOST_NOT_FOUND'
  /** No RTMP answer in time: host unreachable, firewalled, or not an RTMP server. */
  | 'RTMP_CONNECT_TIMEOUT'
  /** TLS (rtmps) handshake or certificate check failed. */
  | 'RTMP_TLS_ERROR'
  /** Something answered at host:port, but not RTMP (the RTMP handshake failed). */
  | 'RTMP_HANDSHAKE_FAILED'
  /** The relay refused the RTMP connect for this app (wrong app, credentials required). */
  | 'RTMP_APP_REJECTED'
  /** The relay refused the publish: stream key not accepted, or the stream is already published. */
  | 'RTMP_PUBLISH_REJECTED'
  /** An established publish was cut: relay stopped, network lost. */
  | 'RTMP_CONNECTION_LOST'
  /** Anything else the sink reported. */
  | 'RTMP_ERROR';

/** An RTMP failure; `message` names the relay by its masked URL and never holds the stream key. */
export class RtmpError extends GstError {
  override readonly name = 'RtmpError';
  constructor(
    readonly code: RtmpErrorCode,
    message: string,
    element: string,
    debug?: string,
  ) {
    super(message, element, debug);
  }
}

export interface ErrorContext {
  /** The publish had been accepted and had stayed up (frames were flowing) before this error. */
  published: boolean;
}

const REFUSED = /connection refused|ECONNREFUSED/i;
const NOT_FOUND = /resolv|name or service not known|unknown host|no address associated|host not found|temporary failure in name resolution/i;
const TIMEOUT = /timed? ?out|timeout/i;
const TLS = /\btls\b|certificate|g-tls-error/i;
const APP_REJECTED = /'connect' cmd (failed|returned)|NetConnection\.Connect\.(Rejected|Failed|InvalidApp)/i;
const PUBLISH_REJECTED = /'(publish|createStream|releaseStream|FCPublish)' cmd|publish denied|NetStream\.Publish\.(BadName|Denied|Failed)/i;
const HANDSHAKE = /short read|handshake|unexpected (data|version)|invalid (rtmp )?version|bad (s0|s1|s2)/i;
const CLOSED = /closed remotely|connection reset|broken pipe|connection (error|closed)|failed to write|could not write|end of stream|EPIPE|ECONNRESET/i;

/** Classify a GStreamer error from the RTMP sink. Texts are masked; `debug` too. */
export function explainRtmpError(err: GstError, target: RtmpTarget, ctx: ErrorContext): RtmpError {
  const text = maskSecrets(err.message, target);
  const debug = err.debug === undefined ? undefined : maskSecrets(err.debug, target);
  const all = `${text}\n${debug ?? ''}`;
  const where = target.masked;
  const hostPort = `${target.host}:${target.port}`;
  const make = (code: RtmpErrorCode, message: string) => new RtmpError(code, `${message} [${text}]`, err.element, debug);

  // Order matters: a refused publish arrives as "'publish' cmd failed: connection closed remotely".
  if (APP_REJECTED.test(all)) {
    return make('RTMP_APP_REJECTED', `the RTMP relay at ${hostPort} refused the connection to app "${target.app}" (${where}): wrong app name, or the relay wants credentials`);
  }
  if (PUBLISH_REJECTED.test(all)) {
    return make('RTMP_PUBLISH_REJECTED', `the RTMP relay refused the publish to ${where}: stream key not accepted, or that stream is already being published`);
  }
  if (REFUSED.test(all)) {
    return make('RTMP_CONNECTION_REFUSED', `nothing accepts connections at ${hostPort} (${where}): the RTMP relay is down or restarting`);
  }
  if (NOT_FOUND.test(all)) {
    return make('RTMP_HOST_NOT_FOUND', `cannot resolve the RTMP relay host "${target.host}" (${where})`);
  }
  if (TLS.test(all)) {
    return make('RTMP_TLS_ERROR', `TLS with the RTMP relay at ${hostPort} failed (${where}): certificate not trusted, wrong host name, or the port does not speak rtmps`);
  }
  if (HANDSHAKE.test(all)) {
    return make('RTMP_HANDSHAKE_FAILED', `the server at ${hostPort} does not speak RTMP (the RTMP handshake failed; ${where}): wrong host or port?`);
  }
  if (TIMEOUT.test(all)) {
    if (ctx.published) {
      return make('RTMP_CONNECTION_LOST', `the RTMP relay at ${where} stopped taking data (the connection timed out): relay hung or network lost`);
    }
    return make('RTMP_CONNECT_TIMEOUT', `no answer from the RTMP relay at ${hostPort} in time (${where}): host unreachable, firewalled, or not an RTMP server`);
  }
  if (CLOSED.test(all)) {
    if (ctx.published) return make('RTMP_CONNECTION_LOST', `the connection to the RTMP relay at ${where} was lost`);
    if (/^Failed to connect/i.test(err.message)) {
      return make('RTMP_CONNECTION_LOST', `the RTMP relay at ${hostPort} closed the connection during the RTMP handshake (${where})`);
    }
    // The sink had its publishing connection, yet it closed before frames flowed: nginx-rtmp's
    // "deny publish" and many platforms' key checks acknowledge the publish, then hang up.
    return make('RTMP_PUBLISH_REJECTED', `the RTMP relay closed the connection right after the publish to ${where}: it most likely refuses this stream key or app`);
  }
  return make('RTMP_ERROR', `RTMP publish to ${where} failed`);
}

/** Make a connect-timeout error of our own (no GStreamer error came, the relay just never answered). */
export function connectTimeoutError(target: RtmpTarget, timeoutMs: number, element: string): RtmpError {
  return new RtmpError(
    'RTMP_CONNECT_TIMEOUT',
    `the RTMP relay at ${target.host}:${target.port} did not accept the publish to ${target.masked} within ${Math.round(timeoutMs / 100) / 10} s: host unreachable, firewalled, or not an RTMP server`,
    element,
  );
}

/**
 * What KVS failures mean for a producer: retry, reconnect, drop the fragment,
 * or stop. Covers PutMedia ack ErrorIds and HTTP error types of both planes.
 */

/** What to do about a failure. */
export type Remedy =
  /** Reconnect after backoff and resend everything not yet persisted. */
  | 'retry'
  /** Reconnect after a longer backoff (throttling). */
  | 'throttle'
  /** Reconnect now (connection-level limit reached). */
  | 'reconnect'
  /** Fetch a fresh data endpoint, then reconnect. */
  | 'endpoint'
  /** Refresh credentials, then reconnect; repeated failures become fatal. */
  | 'auth'
  /** The fragment itself is unacceptable: drop it, reconnect, go on with the next. */
  | 'drop'
  /** Stop streaming with a clear error. */
  | 'fatal';

export interface AckErrorInfo {
  code: string;
  remedy: Remedy;
  message: string;
}

const ACK_ERRORS: Record<number, AckErrorInfo> = {
  4000: { code: 'STREAM_READ_ERROR', remedy: 'retry', message: 'KVS could not read the stream data' },
  4001: { code: 'MAX_FRAGMENT_SIZE_REACHED', remedy: 'drop', message: 'a fragment exceeded the 50 MB limit' },
  4002: { code: 'MAX_FRAGMENT_DURATION_REACHED', remedy: 'drop', message: 'a fragment exceeded the 10 s limit' },
  4003: { code: 'MAX_CONNECTION_DURATION_REACHED', remedy: 'reconnect', message: 'the PutMedia connection reached its maximum duration' },
  4004: { code: 'FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS', remedy: 'drop', message: 'a fragment timecode went backwards' },
  4005: { code: 'MORE_THAN_ALLOWED_TRACKS_FOUND', remedy: 'fatal', message: 'the stream has more tracks than KVS allows' },
  4006: { code: 'INVALID_MKV_DATA', remedy: 'drop', message: 'KVS could not parse the MKV data' },
  4007: { code: 'INVALID_PRODUCER_TIMESTAMP', remedy: 'drop', message: 'the producer timestamp is invalid' },
  4008: { code: 'STREAM_NOT_ACTIVE', remedy: 'fatal', message: 'the stream is no longer active (deleted?)' },
  4009: { code: 'FRAGMENT_METADATA_LIMIT_REACHED', remedy: 'drop', message: 'fragment metadata limit reached' },
  4010: { code: 'TRACK_NUMBER_MISMATCH', remedy: 'drop', message: 'block track number does not match the MKV tracks' },
  4011: { code: 'FRAMES_MISSING_FOR_TRACK', remedy: 'drop', message: 'the fragment has no frames for a track' },
  4012: { code: 'MORE_THAN_ONE_TRACK_FOUND', remedy: 'drop', message: 'unexpected extra track' },
  4500: { code: 'KMS_KEY_ACCESS_DENIED', remedy: 'fatal', message: 'no access to the stream\'s KMS key' },
  4501: { code: 'KMS_KEY_DISABLED', remedy: 'fatal', message: 'the stream\'s KMS key is disabled' },
  4502: { code: 'KMS_KEY_VALIDATION_ERROR', remedy: 'fatal', message: 'the stream\'s KMS key failed validation' },
  4503: { code: 'KMS_KEY_UNAVAILABLE', remedy: 'retry', message: 'the stream\'s KMS key is unavailable' },
  4504: { code: 'KMS_KEY_INVALID_USAGE', remedy: 'fatal', message: 'the stream\'s KMS key has an invalid usage' },
  4505: { code: 'KMS_KEY_INVALID_STATE', remedy: 'fatal', message: 'the stream\'s KMS key is in an invalid state' },
  4506: { code: 'KMS_KEY_NOT_FOUND', remedy: 'fatal', message: 'the stream\'s KMS key was not found' },
  5000: { code: 'INTERNAL_ERROR', remedy: 'retry', message: 'KVS internal error' },
  5001: { code: 'ARCHIVAL_ERROR', remedy: 'retry', message: 'KVS failed to archive the fragment' },
};

/** Meaning of a PutMedia ERROR ack. Unknown 4xxx ids drop the fragment, unknown 5xxx retry. */
export function ackError(errorId: number, errorCode?: string): AckErrorInfo {
  const known = ACK_ERRORS[errorId];
  if (known) return known;
  return {
    code: errorCode ?? `ERROR_${errorId}`,
    remedy: errorId >= 5000 ? 'retry' : 'drop',
    message: `KVS error ${errorId}${errorCode ? ` ${errorCode}` : ''}`,
  };
}

/** Meaning of an HTTP error type (x-amzn-ErrorType or an AWS SDK error name) and status. */
export function httpErrorRemedy(errorType: string | undefined, status: number | undefined): Remedy {
  const t = (errorType ?? '').replace(/Exception$/, '');
  switch (t) {
    case 'ClientLimitExceeded':
    case 'ConnectionLimitExceeded':
    case 'Throttling':
    case 'TooManyRequests':
      return 'throttle';
    case 'InvalidEndpoint':
      return 'endpoint';
    case 'ExpiredToken':
    case 'RequestExpired':
    case 'InvalidSignature':
    case 'UnrecognizedClient':
    case 'NotAuthorized':
    case 'AccessDenied':
    case 'MissingAuthenticationToken':
    case 'IncompleteSignature':
    case 'InvalidClientTokenId':
      return 'auth';
    case 'ResourceNotFound':
    case 'InvalidArgument':
    case 'AccountStreamLimitExceeded':
    case 'InvalidDevice':
      return 'fatal';
  }
  if (status === 429) return 'throttle';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'fatal';
  return 'retry';
}

/** A KVS failure with the service's error type/id and a message safe to show (no secrets). */
export class KvsError extends Error {
  override name = 'KvsError';
  constructor(
    message: string,
    readonly details: { errorType?: string; status?: number; errorId?: number; remedy: Remedy },
  ) {
    super(message);
  }
}

/** Clear text for an error that stops the stream. */
export function fatalMessage(streamName: string, errorType: string | undefined, fallback: string): string {
  const t = (errorType ?? '').replace(/Exception$/, '');
  switch (t) {
    case 'ResourceNotFound':
      return `KVS stream "${streamName}" does not exist (deleted?); create it or set createStream: true`;
    case 'AccessDenied':
    case 'NotAuthorized':
      return `the AWS credentials are not allowed to write to KVS stream "${streamName}" (${t}): grant kinesisvideo:DescribeStream, GetDataEndpoint and PutMedia`;
    case 'InvalidSignature':
      return `KVS rejected the request signature (InvalidSignature): check the AWS secret access key and the machine clock`;
    case 'UnrecognizedClient':
    case 'InvalidClientTokenId':
      return `KVS does not recognise the AWS access key or session token (${t}): check the credentials`;
    case 'ExpiredToken':
    case 'RequestExpired':
      return `the AWS credentials have expired and the credential provider returned no fresh ones (${t})`;
    default:
      return fallback;
  }
}

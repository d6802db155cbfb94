/**
 * Server-side AWS Signature Version 4 check for the KVS emulator, written from
 * the SigV4 specification with node:crypto (independent of the signer the
 * library uses, so a signing mistake in the library shows up here).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export class SigV4Error extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

export function parseAuthorization(value: string | undefined): ParsedAuthorization {
  if (!value) throw new SigV4Error('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    value,
  );
  if (!m) throw new SigV4Error('IncompleteSignatureException', 'Authorization header is malformed');
  return {
    accessKeyId: m[1]!,
    date: m[2]!,
    region: m[3]!,
    service: m[4]!,
    signedHeaders: m[5]!.split(';'),
    signature: m[6]!,
  };
}

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(search: string): string {
  if (!search) return '';
  const pairs = [...new URLSearchParams(search)].map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

export interface VerifyInput {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Hex SHA-256 of the payload the client claims to have signed. */
  payloadHash: string;
  secretAccessKey: string;
  auth: ParsedAuthorization;
  expectedService: string;
  expectedRegion: string;
  /** Allowed clock skew, ms. */
  maxSkewMs?: number;
}

/** Throws SigV4Error when the request's signature does not match the secret. */
export function verifySigV4(input: VerifyInput): void {
  const { auth } = input;
  if (auth.service !== input.expectedService) {
    throw new SigV4Error('InvalidSignatureException', `Credential should be scoped to correct service: '${input.expectedService}'.`);
  }
  if (auth.region !== input.expectedRegion) {
    throw new SigV4Error('InvalidSignatureException', `Credential should be scoped to a valid region, not '${auth.region}'.`);
  }
  const amzDate = String(input.headers['x-amz-date'] ?? '');
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm) throw new SigV4Error('IncompleteSignatureException', 'Missing or malformed X-Amz-Date');
  if (amzDate.slice(0, 8) !== auth.date) throw new SigV4Error('InvalidSignatureException', 'Date in Credential scope does not match X-Amz-Date');
  const when = Date.UTC(+dm[1]!, +dm[2]! - 1, +dm[3]!, +dm[4]!, +dm[5]!, +dm[6]!);
  if (Math.abs(Date.now() - when) > (input.maxSkewMs ?? 5 * 60_000)) {
    throw new SigV4Error('InvalidSignatureException', 'Signature expired');
  }
  for (const required of ['host', 'x-amz-date']) {
    if (!auth.signedHeaders.includes(required)) {
      throw new SigV4Error('InvalidSignatureException', `'${required}' must be a signed header`);
    }
  }
  if (input.headers['x-amz-security-token'] !== undefined && !auth.signedHeaders.includes('x-amz-security-token')) {
    // Not required by the spec for every service, but an unsigned token is a classic signer bug.
    throw new SigV4Error('InvalidSignatureException', 'x-amz-security-token must be signed');
  }
  const sorted = [...auth.signedHeaders].sort();
  if (sorted.join(';') !== auth.signedHeaders.join(';')) {
    throw new SigV4Error('InvalidSignatureException', 'SignedHeaders must be sorted');
  }
  const canonicalHeaders = auth.signedHeaders
    .map((name) => {
      const v = input.headers[name];
      if (v === undefined) throw new SigV4Error('InvalidSignatureException', `signed header ${name} is missing`);
      const value = (Array.isArray(v) ? v.join(',') : v).trim().replace(/\s+/g, ' ');
      return `${name}:${value}\n`;
    })
    .join('');
  const q = input.url.indexOf('?');
  const path = q < 0 ? input.url : input.url.slice(0, q);
  const search = q < 0 ? '' : input.url.slice(q + 1);
  const canonicalRequest = [
    input.method,
    path || '/',
    canonicalQuery(search),
    canonicalHeaders,
    auth.signedHeaders.join(';'),
    input.payloadHash,
  ].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${input.secretAccessKey}`, auth.date);
  const kRegion = hmac(kDate, auth.region);
  const kService = hmac(kRegion, auth.service);
  const kSigning = hmac(kService, 'aws4_request');
  const expected = createHmac('sha256', kSigning).update(stringToSign).digest();
  const got = Buffer.from(auth.signature, 'hex');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
    throw new SigV4Error(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
}

export { sha256Hex };

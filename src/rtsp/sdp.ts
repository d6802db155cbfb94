/**
 * Session descriptions (RFC 4566) for one H.264 video track carried per RFC 6184.
 */

export interface H264SdpOptions {
  /** Session id for the o= line (digits). */
  sessionId: string;
  /** Bumped when the description changes (e.g. new parameter sets). */
  sessionVersion: number;
  /** Address for o= (the server's address as the client reached it). */
  originAddress: string;
  sessionName?: string;
  payloadType?: number;
  /** a=control value of the track, relative to Content-Base. */
  control: string;
  /** Sequence and picture parameter sets, without start codes. */
  sps: Buffer;
  pps: Buffer;
  fps?: number;
}

/** profile-level-id: profile_idc, constraint flags and level_idc from SPS bytes 1..3, as 6 hex digits. */
export function profileLevelId(sps: Buffer): string {
  if (sps.length < 4) throw new RangeError('SPS too short');
  return sps.subarray(1, 4).toString('hex').toUpperCase();
}

/** sprop-parameter-sets: base64 of each parameter set, comma-separated (RFC 6184 §8.1). */
export function spropParameterSets(sps: Buffer, pps: Buffer): string {
  return `${sps.toString('base64')},${pps.toString('base64')}`;
}

export function buildH264Sdp(o: H264SdpOptions): string {
  const pt = o.payloadType ?? 96;
  const ip6 = o.originAddress.includes(':');
  const ipType = ip6 ? 'IP6' : 'IP4';
  const name = (o.sessionName ?? 'gst-skyline').replace(/[\r\n]/g, ' ');
  const lines = [
    'v=0',
    `o=- ${o.sessionId} ${o.sessionVersion} IN ${ipType} ${o.originAddress}`,
    `s=${name}`,
    `c=IN ${ipType} ${ip6 ? '::' : '0.0.0.0'}`,
    't=0 0',
    'a=tool:gst-skyline',
    'a=control:*',
    'a=range:npt=0-',
    `m=video 0 RTP/AVP ${pt}`,
    `a=rtpmap:${pt} H264/90000`,
    `a=fmtp:${pt} packetization-mode=1;profile-level-id=${profileLevelId(o.sps)};sprop-parameter-sets=${spropParameterSets(o.sps, o.pps)}`,
  ];
  if (o.fps !== undefined && o.fps > 0) lines.push(`a=framerate:${Number(o.fps.toFixed(3))}`);
  lines.push(`a=control:${o.control}`);
  return lines.join('\r\n') + '\r\n';
}

export interface SdpMedia {
  readonly media: string;
  readonly port: number;
  readonly proto: string;
  readonly formats: string[];
  readonly attributes: Array<[string, string]>;
}

export interface Sdp {
  readonly fields: Array<[string, string]>;
  readonly attributes: Array<[string, string]>;
  readonly media: SdpMedia[];
}

/** A small reader: enough to check what we send and what other servers send. */
export function parseSdp(text: string): Sdp {
  const fields: Array<[string, string]> = [];
  const attributes: Array<[string, string]> = [];
  const media: SdpMedia[] = [];
  let current: SdpMedia | undefined;
  for (const line of text.split(/\r?\n/)) {
    const m = /^([a-z])=(.*)$/.exec(line);
    if (!m) continue;
    const [, type, value] = m as unknown as [string, string, string];
    if (type === 'm') {
      const [mediaType = '', port = '0', proto = '', ...formats] = value.split(' ');
      current = { media: mediaType, port: Number(port.split('/')[0]), proto, formats, attributes: [] };
      media.push(current);
    } else if (type === 'a') {
      const colon = value.indexOf(':');
      const attr: [string, string] = colon < 0 ? [value, ''] : [value.slice(0, colon), value.slice(colon + 1)];
      (current ? current.attributes : attributes).push(attr);
    } else if (!current) {
      fields.push([type, value]);
    }
  }
  return { fields, attributes, media };
}

/** Parses "a=fmtp:<pt> k=v;k=v" parameters into a map. */
export function parseFmtp(value: string): { payloadType: number; params: Record<string, string> } {
  const sp = value.indexOf(' ');
  const params: Record<string, string> = {};
  for (const p of value.slice(sp + 1).split(';')) {
    const eq = p.indexOf('=');
    if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
  }
  return { payloadType: Number(value.slice(0, sp)), params };
}

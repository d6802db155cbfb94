/**
 * RTSP header values the server interprets (RFC 2326 §12): Transport, Session and Range.
 */

export interface TransportSpec {
  /** 'RTP/AVP' with lower transport UDP (default) or TCP. */
  readonly protocol: string;
  readonly lower: 'UDP' | 'TCP';
  readonly multicast: boolean;
  readonly clientPort?: readonly [number, number];
  readonly interleaved?: readonly [number, number];
  readonly mode?: string;
  /** Parameters we do not act on, kept for logging. */
  readonly raw: string;
}

/** Parses a Transport header: a comma-separated list of alternatives in order of client preference. */
export function parseTransport(header: string): TransportSpec[] {
  const specs: TransportSpec[] = [];
  for (const raw of header.split(',')) {
    const parts = raw.trim().split(';').map((p) => p.trim()).filter((p) => p.length > 0);
    const proto = parts.shift();
    if (!proto) continue;
    const m = /^([A-Za-z]+\/[A-Za-z]+)(?:\/([A-Za-z]+))?$/.exec(proto);
    if (!m) continue;
    const lower = (m[2] ?? 'UDP').toUpperCase();
    if (lower !== 'UDP' && lower !== 'TCP') continue;
    let multicast = false;
    let clientPort: [number, number] | undefined;
    let interleaved: [number, number] | undefined;
    let mode: string | undefined;
    let bad = false;
    for (const p of parts) {
      const eq = p.indexOf('=');
      const key = (eq < 0 ? p : p.slice(0, eq)).toLowerCase();
      const value = eq < 0 ? '' : p.slice(eq + 1).replace(/^"|"$/g, '');
      if (key === 'multicast') multicast = true;
      else if (key === 'unicast') multicast = false;
      else if (key === 'client_port') {
        const r = parseRange(value, 65535);
        if (r) clientPort = r;
        else bad = true;
      } else if (key === 'interleaved') {
        const r = parseRange(value, 255);
        if (r) interleaved = r;
        else bad = true;
      } else if (key === 'mode') mode = value.toUpperCase();
    }
    if (bad) continue;
    specs.push({
      protocol: m[1]!.toUpperCase(),
      lower: lower as 'UDP' | 'TCP',
      multicast,
      ...(clientPort ? { clientPort } : {}),
      ...(interleaved ? { interleaved } : {}),
      ...(mode !== undefined ? { mode } : {}),
      raw: raw.trim(),
    });
  }
  return specs;
}

/** "a-b" or "a" (then b = a + 1), each within 0..max. */
function parseRange(value: string, max: number): [number, number] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a + 1 : Number(m[2]);
  if (a > max || b > max) return undefined;
  return [a, b];
}

export function formatUdpTransport(clientPort: readonly [number, number], serverPort: readonly [number, number], ssrc: number): string {
  return `RTP/AVP;unicast;client_port=${clientPort[0]}-${clientPort[1]};server_port=${serverPort[0]}-${serverPort[1]};ssrc=${hex8(ssrc)};mode="PLAY"`;
}

export function formatTcpTransport(interleaved: readonly [number, number], ssrc: number): string {
  return `RTP/AVP/TCP;unicast;interleaved=${interleaved[0]}-${interleaved[1]};ssrc=${hex8(ssrc)};mode="PLAY"`;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** Session header: "id[;timeout=n]" — returns the id. */
export function parseSessionId(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const id = header.split(';')[0]!.trim();
  return id.length > 0 ? id : undefined;
}

/**
 * Range header of a PLAY request. A live stream cannot seek, so only the form matters:
 * true for npt/clock/smpte ranges we can answer with "from now", false for unparseable ones (457).
 */
export function isAcceptableRange(header: string | undefined): boolean {
  if (header === undefined) return true;
  const value = header.split(';')[0]!.trim();
  if (/^npt\s*=\s*(now|\d+(\.\d*)?|\d+:\d{1,2}:\d{1,2}(\.\d*)?)?\s*-\s*(now|\d+(\.\d*)?|\d+:\d{1,2}:\d{1,2}(\.\d*)?)?$/i.test(value)) return true;
  if (/^(clock|smpte(-\d+(-drop)?)?)\s*=\s*[\w:.]*\s*-\s*[\w:.]*$/i.test(value)) return true;
  return false;
}

// Property-based tests (fast-check) of the RTSP parsers that read network bytes: the request parser
// (with `$` interleaved frames), Transport, Session and Range headers. Random and mutated input
// never throws out of a parser and stays bounded; well-formed messages round-trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_PARSER_LIMITS, RtspParser, type RtspParseError, type RtspRequest } from '../../src/rtsp/message.js';
import { formatTcpTransport, formatUdpTransport, isAcceptableRange, parseSessionId, parseTransport } from '../../src/rtsp/headers.js';

const RUNS = { numRuns: 300 } as const;

/** Feeds `bytes` cut at `cuts`; collects everything the parser reports. */
function feed(bytes: Uint8Array, cuts: number[]) {
  const requests: RtspRequest[] = [];
  const frames: Array<[number, Buffer]> = [];
  const errors: RtspParseError[] = [];
  const p = new RtspParser({
    onRequest: (r) => requests.push(r),
    onInterleaved: (c, b) => frames.push([c, Buffer.from(b)]),
    onError: (e) => errors.push(e),
  });
  let maxPending = 0;
  let at = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b).concat(bytes.length)) {
    p.push(Buffer.from(bytes.subarray(at, cut)));
    maxPending = Math.max(maxPending, p.pendingBytes);
    at = cut;
  }
  return { requests, frames, errors, maxPending, broken: p.broken };
}

const L = DEFAULT_PARSER_LIMITS;
// The most a parser may hold: one header block, its body, and the chunk that completed nothing.
const PENDING_BOUND = (chunk: number) => L.maxHeaderBytes + 4 + L.maxBodyBytes + chunk;

test('RtspParser: random bytes in random chunks never throw, report at most one error, stay bounded', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4000 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
      const r = feed(bytes, cuts);
      assert.ok(r.errors.length <= 1);
      assert.equal(r.broken, r.errors.length === 1);
      for (const e of r.errors) assert.ok([400, 413, 414, 431, 505].includes(e.status), `status ${e.status}`);
      assert.ok(r.maxPending <= PENDING_BOUND(bytes.length), `holds ${r.maxPending} bytes`);
    }),
    RUNS,
  );
});

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,15}$/);
const headerValue = fc.stringMatching(/^[!-~]([ -~]{0,40}[!-~])?$/);
const request = fc.record({
  method: fc.constantFrom('OPTIONS', 'DESCRIBE', 'SETUP', 'PLAY', 'TEARDOWN', 'GET_PARAMETER'),
  uri: fc.stringMatching(/^rtsp:\/\/127\.0\.0\.1:\d{1,5}\/[A-Za-z0-9/._~-]{0,60}$/),
  headers: fc.uniqueArray(fc.tuple(token, headerValue), { maxLength: 12, selector: ([k]) => k.toLowerCase() }),
  body: fc.uint8Array({ maxLength: 300 }),
  cseq: fc.integer({ min: 0, max: 2 ** 31 }),
});
type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

function serialize(r: Req): Buffer {
  const lines = [`${r.method} ${r.uri} RTSP/1.0`, `CSeq: ${r.cseq}`];
  for (const [k, v] of r.headers) if (!['cseq', 'content-length'].includes(k.toLowerCase())) lines.push(`${k}: ${v}`);
  if (r.body.length > 0) lines.push(`Content-Length: ${r.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), r.body]);
}

const interleaved = fc.record({ channel: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 2000 }) });
type Frame = typeof interleaved extends fc.Arbitrary<infer T> ? T : never;

test('RtspParser: well-formed requests and $ frames round-trip whatever the chunking', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(request, interleaved), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 30 }), (msgs, cuts) => {
      const bytes = Buffer.concat(msgs.map((m) => ('method' in m
        ? serialize(m)
        : Buffer.concat([Buffer.from([0x24, m.channel, m.payload.length >> 8, m.payload.length & 0xff]), m.payload]))));
      const r = feed(bytes, cuts);
      assert.deepEqual(r.errors, []);
      const reqs = msgs.filter((m): m is Req => 'method' in m);
      assert.equal(r.requests.length, reqs.length);
      reqs.forEach((m, i) => {
        const got = r.requests[i]!;
        assert.equal(got.method, m.method);
        assert.equal(got.uri, m.uri);
        assert.equal(got.headers['cseq'], String(m.cseq));
        for (const [k, v] of m.headers) if (!['cseq', 'content-length'].includes(k.toLowerCase())) assert.equal(got.headers[k.toLowerCase()], v);
        assert.deepEqual(got.body, Buffer.from(m.body));
      });
      const frames = msgs.filter((m): m is Frame => !('method' in m));
      assert.deepEqual(r.frames, frames.map((f) => [f.channel, Buffer.from(f.payload)]));
    }),
    RUNS,
  );
});

test('RtspParser: mutated requests never throw and never report a request that was not sent whole', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(request, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (req, flips, cuts) => {
      const bytes = serialize(req);
      for (const [at, v] of flips) bytes[at % bytes.length] = v;
      const r = feed(bytes, cuts);
      assert.ok(r.errors.length <= 1);
      assert.ok(r.requests.length + r.frames.length <= bytes.length);
      for (const q of r.requests) assert.ok(q.body.length <= L.maxBodyBytes && q.uri.length <= L.maxUriBytes);
    }),
    RUNS,
  );
});

test('Transport, Session and Range headers: any text parses without throwing, within the limits', { timeout: 60_000 }, () => {
  const headerText = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.array(fc.constantFrom('RTP/AVP', 'RTP/AVP/TCP', 'RTP/AVP/UDP', ';', ',', 'unicast', 'multicast', 'client_port=', 'interleaved=', 'mode="PLAY"', '-', '=', '"', '0', '1', '65535', '65536', '99999', ' '), { maxLength: 40 }).map((a) => a.join('')),
  );
  fc.assert(
    fc.property(headerText, (h) => {
      for (const t of parseTransport(h)) {
        assert.ok(t.lower === 'UDP' || t.lower === 'TCP');
        if (t.clientPort) assert.ok(t.clientPort.every((p) => Number.isInteger(p) && p >= 0 && p <= 65535));
        if (t.interleaved) assert.ok(t.interleaved.every((c) => Number.isInteger(c) && c >= 0 && c <= 255));
      }
      const id = parseSessionId(h);
      assert.ok(id === undefined || (id.length > 0 && !id.includes(';')));
      assert.equal(typeof isAcceptableRange(h), 'boolean');
    }),
    { numRuns: 1000 },
  );
});

test('Transport headers we write parse back to what was written', () => {
  const port = fc.integer({ min: 0, max: 65534 });
  fc.assert(
    fc.property(port, port, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 254 }), (client, server, ssrc, ch) => {
      const [udp] = parseTransport(formatUdpTransport([client, client + 1], [server, server + 1], ssrc));
      assert.deepEqual([udp!.lower, udp!.clientPort, udp!.mode, udp!.multicast], ['UDP', [client, client + 1], 'PLAY', false]);
      const [tcp] = parseTransport(formatTcpTransport([ch, ch + 1], ssrc));
      assert.deepEqual([tcp!.lower, tcp!.interleaved, tcp!.mode], ['TCP', [ch, ch + 1], 'PLAY']);
    }),
    RUNS,
  );
});

test('SDP we write parses back: payload type, parameter sets, profile, control', async () => {
  const { buildH264Sdp, parseFmtp, parseSdp } = await import('../../src/rtsp/sdp.js');
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 4, maxLength: 40 }), fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.integer({ min: 96, max: 127 }),
      fc.stringMatching(/^[A-Za-z0-9=_-]{1,20}$/), fc.string({ maxLength: 40 }), fc.option(fc.double({ min: 0.5, max: 240, noNaN: true }), { nil: undefined }),
      (sps, pps, pt, control, name, fps) => {
        const text = buildH264Sdp({ sessionId: '123', sessionVersion: 1, originAddress: '127.0.0.1', sessionName: name, payloadType: pt, control, sps: Buffer.from(sps), pps: Buffer.from(pps), fps });
        const sdp = parseSdp(text);
        assert.equal(sdp.media.length, 1);
        const m = sdp.media[0]!;
        assert.deepEqual([m.media, m.proto, m.formats], ['video', 'RTP/AVP', [String(pt)]]);
        const attrs = new Map(m.attributes);
        assert.equal(attrs.get('control'), control);
        const fmtp = parseFmtp(attrs.get('fmtp')!);
        assert.equal(fmtp.payloadType, pt);
        assert.equal(fmtp.params['profile-level-id'], Buffer.from(sps).subarray(1, 4).toString('hex').toUpperCase());
        const [s, p] = fmtp.params['sprop-parameter-sets']!.split(',');
        assert.deepEqual([Buffer.from(s!, 'base64'), Buffer.from(p!, 'base64')], [Buffer.from(sps), Buffer.from(pps)]);
      },
    ),
    RUNS,
  );
  // And any text reads without throwing (we parse other servers' SDP in tests and tools).
  fc.assert(fc.property(fc.string({ maxLength: 500 }), (t) => {
    parseSdp(t);
    parseFmtp(t);
  }), { numRuns: 500 });
});

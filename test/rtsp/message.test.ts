import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtspParser, serializeResponse, interleavedHeader, type RtspRequest, type RtspParseError } from '../../src/rtsp/message.js';

function collect(limits = {}) {
  const requests: RtspRequest[] = [];
  const frames: Array<[number, Buffer]> = [];
  const errors: RtspParseError[] = [];
  const responses: number[] = [];
  const parser = new RtspParser(
    {
      onRequest: (r) => requests.push(r),
      onInterleaved: (c, p) => frames.push([c, Buffer.from(p)]),
      onResponse: (s) => responses.push(s),
      onError: (e) => errors.push(e),
    },
    limits,
  );
  return { parser, requests, frames, errors, responses };
}

const OPTIONS = 'OPTIONS rtsp://127.0.0.1:8554/live RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: test\r\n\r\n';

test('parses a request with headers, case-insensitive names', () => {
  const c = collect();
  c.parser.push(Buffer.from(OPTIONS));
  assert.equal(c.requests.length, 1);
  const r = c.requests[0]!;
  assert.equal(r.method, 'OPTIONS');
  assert.equal(r.uri, 'rtsp://127.0.0.1:8554/live');
  assert.equal(r.headers['cseq'], '1');
  assert.equal(r.headers['user-agent'], 'test');
  assert.equal(r.body.length, 0);
  assert.equal(c.errors.length, 0);
});

test('parses requests split at every byte and pipelined in one chunk', () => {
  const two = OPTIONS + 'GET_PARAMETER rtsp://h/live RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nhello';
  const c = collect();
  for (const b of Buffer.from(two)) c.parser.push(Buffer.from([b]));
  assert.deepEqual(c.requests.map((r) => r.headers['cseq']), ['1', '2']);
  assert.equal(c.requests[1]!.body.toString(), 'hello');
  const d = collect();
  d.parser.push(Buffer.from(two + two));
  assert.equal(d.requests.length, 4);
  assert.equal(d.parser.pendingBytes, 0);
});

test('extracts $ interleaved frames between requests (RFC 2326 §10.12)', () => {
  const c = collect();
  const rtcp = Buffer.from([0x80, 201, 0, 1, 1, 2, 3, 4]);
  const frame = Buffer.concat([interleavedHeader(1, rtcp.length), rtcp]);
  const stream = Buffer.concat([frame, Buffer.from(OPTIONS), frame, frame]);
  for (let i = 0; i < stream.length; i += 3) c.parser.push(stream.subarray(i, i + 3));
  assert.equal(c.requests.length, 1);
  assert.equal(c.frames.length, 3);
  assert.deepEqual(c.frames[0], [1, rtcp]);
  assert.equal(c.errors.length, 0);
});

test('accepts bare LF line ends, folded headers and stray blank lines', () => {
  const c = collect();
  c.parser.push(Buffer.from('\r\n\r\nDESCRIBE rtsp://h/live RTSP/1.0\nCSeq: 7\nAccept: application/sdp,\n  text/plain\n\n'));
  assert.equal(c.requests.length, 1);
  assert.equal(c.requests[0]!.headers['accept'], 'application/sdp, text/plain');
});

test('repeated headers are joined', () => {
  const c = collect();
  c.parser.push(Buffer.from('SETUP rtsp://h/live/track1 RTSP/1.0\r\nCSeq: 3\r\nTransport: a\r\nTransport: b\r\n\r\n'));
  assert.equal(c.requests[0]!.headers['transport'], 'a, b');
});

test('skips responses sent by the client', () => {
  const c = collect();
  c.parser.push(Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 2\r\n\r\nok' + OPTIONS));
  assert.deepEqual(c.responses, [200]);
  assert.equal(c.requests.length, 1);
});

test('malformed input reports a status code once and stops', () => {
  const cases: Array<[string, number]> = [
    ['GARBAGE\r\n\r\n', 400],
    ['OPTIONS * HTTP/1.1\r\nCSeq: 1\r\n\r\n', 400],
    ['OPTIONS * RTSP/2.0\r\nCSeq: 4\r\n\r\n', 505],
    ['OPTIONS * RTSP/1.0\r\nCSeq: 5\r\nno colon here\r\n\r\n', 400],
    ['OPTIONS * RTSP/1.0\r\nCSeq: 6\r\nContent-Length: -1\r\n\r\n', 400],
    ['OPTIONS * RTSP/1.0\r\nCSeq: 6\r\nContent-Length: 99999999\r\n\r\n', 413],
    ['OPTIONS  * RTSP/1.0\r\n\r\n', 400],
    [`OPTIONS /${'a'.repeat(3000)} RTSP/1.0\r\n\r\n`, 414],
  ];
  for (const [text, status] of cases) {
    const c = collect();
    c.parser.push(Buffer.from(text));
    c.parser.push(Buffer.from(OPTIONS));
    assert.equal(c.errors.length, 1, text);
    assert.equal(c.errors[0]!.status, status, text);
    assert.equal(c.requests.length, 0, text);
    assert.equal(c.parser.broken, true);
  }
});

test('the error carries the CSeq when it was readable', () => {
  const c = collect();
  c.parser.push(Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 42\r\nContent-Length: 100000\r\n\r\n'));
  assert.equal(c.errors[0]!.cseq, '42');
  const d = collect();
  d.parser.push(Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n2\r\nX: y\r\n\r\n'));
  assert.equal(d.errors[0]!.cseq, '4');
});

test('oversized headers and endless lines are bounded', () => {
  const c = collect();
  c.parser.push(Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 9\r\n'));
  for (let i = 0; i < 1000 && c.errors.length === 0; i++) c.parser.push(Buffer.from(`X-Pad-${i}: ${'v'.repeat(100)}\r\n`));
  assert.equal(c.errors.length, 1);
  assert.ok([431].includes(c.errors[0]!.status));
  assert.equal(c.errors[0]!.cseq, '9');
  assert.equal(c.parser.pendingBytes, 0);

  const d = collect();
  for (let i = 0; i < 100 && d.errors.length === 0; i++) d.parser.push(Buffer.alloc(1000, 0x41));
  assert.equal(d.errors.length, 1);
  assert.ok(d.parser.pendingBytes <= 4096);

  const e = collect();
  for (let i = 0; i < 100 && e.errors.length === 0; i++) e.parser.push(Buffer.from(`X-H${i}: 1\r\n`.repeat(1)));
  // no request line: the first line "X-H0: 1" is not a request; once the headers end it fails
  e.parser.push(Buffer.from('\r\n'));
  assert.equal(e.errors.length, 1);
});

test('too many header lines is 431', () => {
  const c = collect();
  c.parser.push(Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n' + 'A: b\r\n'.repeat(100) + '\r\n'));
  assert.equal(c.errors[0]!.status, 431);
});

test('random binary input never throws', () => {
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
  for (let n = 0; n < 200; n++) {
    const c = collect();
    const len = rand() % 400;
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = rand() & 0xff;
    c.parser.push(b);
    assert.ok(c.errors.length <= 1);
  }
});

test('serializes responses with Content-Length and repeated headers', () => {
  const buf = serializeResponse({ status: 401, headers: { CSeq: 3, 'WWW-Authenticate': ['Digest realm="r"', 'Basic realm="r"'] }, body: 'x' });
  assert.equal(
    buf.toString(),
    'RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\nWWW-Authenticate: Digest realm="r"\r\nWWW-Authenticate: Basic realm="r"\r\nContent-Length: 1\r\n\r\nx',
  );
  assert.equal(serializeResponse({ status: 200, headers: { CSeq: '1', Skip: undefined } }).toString(), 'RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n');
  assert.throws(() => serializeResponse({ status: 200, headers: { CSeq: '1\r\nEvil: 1' } }));
});

test('interleaved header layout', () => {
  assert.deepEqual([...interleavedHeader(2, 0x1234)], [0x24, 2, 0x12, 0x34]);
  assert.throws(() => interleavedHeader(0, 70000));
});

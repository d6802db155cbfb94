import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTransport, formatUdpTransport, formatTcpTransport, parseSessionId, isAcceptableRange } from '../../src/rtsp/headers.js';

test('Transport headers sent by ffmpeg and GStreamer', () => {
  const ff = parseTransport('RTP/AVP/UDP;unicast;client_port=5000-5001');
  assert.deepEqual(ff.map((t) => [t.protocol, t.lower, t.multicast, t.clientPort]), [['RTP/AVP', 'UDP', false, [5000, 5001]]]);
  const gst = parseTransport('RTP/AVP;unicast;client_port=40000-40001');
  assert.equal(gst[0]!.lower, 'UDP');
  assert.deepEqual(gst[0]!.clientPort, [40000, 40001]);
  const tcp = parseTransport('RTP/AVP/TCP;unicast;interleaved=0-1');
  assert.equal(tcp[0]!.lower, 'TCP');
  assert.deepEqual(tcp[0]!.interleaved, [0, 1]);
});

test('alternatives are kept in order; bad values drop only their alternative', () => {
  const t = parseTransport('RTP/AVP;multicast;ttl=127, RTP/AVP;unicast;client_port=99999-2,RTP/AVP/TCP;unicast;interleaved=2-3;mode="PLAY"');
  assert.equal(t.length, 2);
  assert.equal(t[0]!.multicast, true);
  assert.deepEqual(t[1]!.interleaved, [2, 3]);
  assert.equal(t[1]!.mode, 'PLAY');
  assert.deepEqual(parseTransport('RTP/AVP;unicast;client_port=6000')[0]!.clientPort, [6000, 6001]);
  assert.deepEqual(parseTransport('garbage;;;'), []);
  assert.deepEqual(parseTransport('RTP/AVP/SCTP;unicast'), []);
  assert.deepEqual(parseTransport(''), []);
});

test('reply formats (RFC 2326 §12.39)', () => {
  assert.equal(formatUdpTransport([5000, 5001], [6970, 6971], 0xab), 'RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=000000AB;mode="PLAY"');
  assert.equal(formatTcpTransport([0, 1], 0xdeadbeef), 'RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=DEADBEEF;mode="PLAY"');
});

test('Session id and Range', () => {
  assert.equal(parseSessionId('12345678;timeout=60'), '12345678');
  assert.equal(parseSessionId(' abc '), 'abc');
  assert.equal(parseSessionId(''), undefined);
  assert.equal(parseSessionId(undefined), undefined);
  for (const ok of [undefined, 'npt=0.000-', 'npt=now-', 'npt=0-', 'npt=1:02:03.5-', 'clock=19961108T142300Z-', 'npt = 0 -', 'npt=0.000-;time=19970123T143720Z']) {
    assert.equal(isAcceptableRange(ok), true, String(ok));
  }
  for (const bad of ['bytes=0-', 'npt=abc-', 'hello']) assert.equal(isAcceptableRange(bad), false, bad);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildH264Sdp, parseSdp, parseFmtp, profileLevelId, spropParameterSets } from '../../src/rtsp/sdp.js';

// Constrained baseline 3.1 SPS / PPS as produced by x264.
const sps = Buffer.from('6742c01fd9005005bb011000000300100000030300f1832480', 'hex');
const pps = Buffer.from('68cb83cb20', 'hex');

test('profile-level-id and sprop-parameter-sets (RFC 6184 §8.1)', () => {
  assert.equal(profileLevelId(sps), '42C01F');
  assert.equal(spropParameterSets(sps, pps), `${sps.toString('base64')},${pps.toString('base64')}`);
  assert.throws(() => profileLevelId(Buffer.from([0x67])));
});

test('SDP for one H.264 track (RFC 4566 order, control attributes)', () => {
  const text = buildH264Sdp({ sessionId: '123', sessionVersion: 2, originAddress: '127.0.0.1', control: 'track1', sps, pps, fps: 30 });
  assert.ok(text.endsWith('\r\n'));
  const lines = text.trim().split('\r\n');
  assert.deepEqual(lines.map((l) => l[0]).slice(0, 5), ['v', 'o', 's', 'c', 't']);
  assert.equal(lines[1], 'o=- 123 2 IN IP4 127.0.0.1');
  const sdp = parseSdp(text);
  assert.deepEqual(sdp.attributes.find(([k]) => k === 'control'), ['control', '*']);
  assert.equal(sdp.media.length, 1);
  const m = sdp.media[0]!;
  assert.equal(m.media, 'video');
  assert.equal(m.proto, 'RTP/AVP');
  assert.deepEqual(m.formats, ['96']);
  const attrs = Object.fromEntries(m.attributes);
  assert.equal(attrs['rtpmap'], '96 H264/90000');
  assert.equal(attrs['control'], 'track1');
  assert.equal(attrs['framerate'], '30');
  const fmtp = parseFmtp(attrs['fmtp']!);
  assert.equal(fmtp.payloadType, 96);
  assert.equal(fmtp.params['packetization-mode'], '1');
  assert.equal(fmtp.params['profile-level-id'], '42C01F');
  const [s, p] = fmtp.params['sprop-parameter-sets']!.split(',');
  assert.deepEqual(Buffer.from(s!, 'base64'), sps);
  assert.deepEqual(Buffer.from(p!, 'base64'), pps);
});

test('IPv6 origin and a session name without newlines', () => {
  const text = buildH264Sdp({ sessionId: '1', sessionVersion: 1, originAddress: '::1', control: 'track1', sps, pps, sessionName: 'a\r\nb' });
  assert.match(text, /^o=- 1 1 IN IP6 ::1\r$/m);
  assert.match(text, /^c=IN IP6 ::\r$/m);
  assert.match(text, /^s=a  b\r$/m);
});

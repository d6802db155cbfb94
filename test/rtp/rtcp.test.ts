import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ntpTimestamp, ntpToEpochMs, senderReport, sdesCname, bye, senderReportCompound, byeCompound, parseRtcp, RTCP_SR, RTCP_RR, RTCP_SDES, RTCP_BYE } from '../../src/rtp/rtcp.js';

test('NTP timestamps (RFC 3550 §4): 1900 epoch, 32.32 fixed point', () => {
  assert.deepEqual(ntpTimestamp(0), [2208988800, 0]);
  assert.deepEqual(ntpTimestamp(1500), [2208988801, 2 ** 31]);
  const ms = 1_700_000_000_123.25;
  const [s, f] = ntpTimestamp(ms);
  assert.ok(Math.abs(ntpToEpochMs(s, f) - ms) < 0.001);
  const [, f2] = ntpTimestamp(999.9999999);
  assert.ok(f2 < 2 ** 32);
});

test('sender report layout (RFC 3550 §6.4.1)', () => {
  const b = senderReport({ ssrc: 0xaabbccdd, ntpMs: 1500, rtpTime: 0x01020304, packetCount: 7, octetCount: 9000 });
  assert.equal(b.length, 28);
  assert.equal(b[0], 0x80);
  assert.equal(b[1], 200);
  assert.equal(b.readUInt16BE(2), 6, 'length in 32-bit words minus one');
  assert.equal(b.readUInt32BE(4), 0xaabbccdd);
  assert.equal(b.readUInt32BE(8), 2208988801);
  assert.equal(b.readUInt32BE(12), 2 ** 31);
  assert.equal(b.readUInt32BE(16), 0x01020304);
  assert.equal(b.readUInt32BE(20), 7);
  assert.equal(b.readUInt32BE(24), 9000);
});

test('SDES CNAME is padded to 32 bits with a terminating null', () => {
  for (const cname of ['a', 'ab', 'abc', 'abcd', 'gst-skyline@127.0.0.1']) {
    const b = sdesCname(1, cname);
    assert.equal(b.length % 4, 0);
    assert.equal((b.readUInt16BE(2) + 1) * 4, b.length);
    assert.equal(b[8], 1);
    assert.equal(b[9], cname.length);
    assert.equal(b.toString('utf8', 10, 10 + cname.length), cname);
    assert.equal(b[10 + cname.length], 0);
  }
});

test('compound packets parse back; receiver reports are read', () => {
  const sr = { ssrc: 5, ntpMs: Date.now(), rtpTime: 1, packetCount: 1, octetCount: 1 };
  assert.deepEqual(parseRtcp(senderReportCompound(sr, 'x'))!.map((p) => [p.type, p.ssrc]), [[RTCP_SR, 5], [RTCP_SDES, 5]]);
  assert.deepEqual(parseRtcp(byeCompound(sr, 'x'))!.map((p) => p.type), [RTCP_SR, RTCP_SDES, RTCP_BYE]);
  assert.equal(bye(9).readUInt32BE(4), 9);
  // RR with one report block, as a receiver sends it
  const rr = Buffer.alloc(32);
  rr[0] = 0x81; rr[1] = RTCP_RR; rr.writeUInt16BE(7, 2); rr.writeUInt32BE(0x1234, 4);
  rr.writeUInt32BE(5, 8); rr[12] = 64; rr.writeUIntBE(0xfffffe, 13, 3); rr.writeUInt32BE(70000, 16); rr.writeUInt32BE(12, 20);
  const [p] = parseRtcp(rr)!;
  assert.equal(p!.type, RTCP_RR);
  assert.equal(p!.ssrc, 0x1234);
  assert.deepEqual(p!.reports, [{ ssrc: 5, fractionLost: 0.25, cumulativeLost: -2, highestSeq: 70000, jitter: 12 }]);
});

test('anything that is not RTCP is rejected without throwing', () => {
  assert.equal(parseRtcp(Buffer.alloc(0)), undefined);
  assert.equal(parseRtcp(Buffer.from([0x80, 96, 0, 0])), undefined, 'RTP payload type');
  assert.equal(parseRtcp(Buffer.from([0x40, 200, 0, 0])), undefined, 'version 1');
  assert.equal(parseRtcp(Buffer.from([0x80, 201, 0, 9, 0, 0, 0, 0])), undefined, 'length overruns');
  assert.equal(parseRtcp(Buffer.from([0x81, 201, 0, 1, 0, 0, 0, 0])), undefined, 'report count overruns');
  let seed = 7;
  for (let n = 0; n < 500; n++) {
    const b = Buffer.alloc(n % 64);
    for (let i = 0; i < b.length; i++) b[i] = (seed = (seed * 48271) % 2147483647) & 0xff;
    parseRtcp(b);
  }
});

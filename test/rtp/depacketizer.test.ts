// RFC 6184 depacketizing: single NAL units, STAP-A and FU-A back into access units; a lost
// packet drops its unit; garbage never grows memory without bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H264Depacketizer, type DepacketizedUnit } from '../../src/rtp/depacketizer.js';
import { H264Packetizer } from '../../src/rtp/packetizer.js';
import type { RtpPacket } from '../../src/rtp/packet.js';

const nal = (header: number, len: number): Buffer => {
  const b = Buffer.alloc(len);
  b[0] = header;
  for (let i = 1; i < len; i++) b[i] = (i * 7) & 0xff;
  return b;
};

function packets(units: Buffer[][], firstSeq = 65530): RtpPacket[] {
  const p = new H264Packetizer({ maxPacketBytes: 200 });
  const out: RtpPacket[] = [];
  let seq = firstSeq;
  units.forEach((nalus, i) => {
    for (const { payload, marker } of p.packetize({ nalus, keyframe: false, ptsNs: 0, captureMs: 0 })) {
      out.push({ marker, payloadType: 96, sequence: seq, timestamp: 3000 * i, ssrc: 1, payload });
      seq = (seq + 1) & 0xffff;
    }
  });
  return out;
}

const collect = () => {
  const units: DepacketizedUnit[] = [];
  return { units, dep: new H264Depacketizer((u) => units.push(u)) };
};

test('units come back whole (FU-A reassembled), keyframes marked, across a sequence wrap', () => {
  const sent = [[nal(0x67, 20), nal(0x68, 5), nal(0x65, 1000)], [nal(0x41, 300)], [nal(0x41, 50)]];
  const { units, dep } = collect();
  for (const p of packets(sent)) dep.push(p);
  assert.deepEqual(units.map((u) => u.nalus), sent);
  assert.deepEqual(units.map((u) => u.keyframe), [true, false, false]);
  assert.deepEqual(units.map((u) => u.timestamp), [0, 3000, 6000]);
  assert.equal(dep.dropped, 0);
});

test('STAP-A aggregates are split into their NAL units', () => {
  const a = nal(0x67, 10), b = nal(0x68, 4);
  const stap = Buffer.concat([Buffer.from([24, 0, a.length]), a, Buffer.from([0, b.length]), b]);
  const { units, dep } = collect();
  dep.push({ marker: true, payloadType: 96, sequence: 1, timestamp: 0, ssrc: 1, payload: stap });
  assert.deepEqual(units[0]!.nalus, [a, b]);
});

test('a lost packet drops the unit it belonged to, not the next one', () => {
  const sent = [[nal(0x65, 1000)], [nal(0x41, 100)]];
  const pk = packets(sent);
  const { units, dep } = collect();
  for (const p of pk.filter((_, i) => i !== 2)) dep.push(p);
  assert.deepEqual(units.map((u) => u.nalus), [sent[1]]);
  assert.equal(dep.dropped, 1);
});

test('a unit that never ends is dropped once it grows past the bound', () => {
  const { units, dep } = collect();
  const chunk = Buffer.concat([Buffer.from([0x7c, 0x05]), Buffer.alloc(60_000)]); // FU-A middle/start, never an end
  chunk[1] = 0x85; // start bit on the first
  dep.push({ marker: false, payloadType: 96, sequence: 0, timestamp: 0, ssrc: 1, payload: chunk });
  chunk[1] = 0x05;
  let most = 0;
  for (let i = 1; i < 700; i++) {
    dep.push({ marker: false, payloadType: 96, sequence: i, timestamp: 0, ssrc: 1, payload: chunk });
    most = Math.max(most, dep.pendingBytes);
  }
  assert.ok(most > 30 * 2 ** 20 && most <= 32 * 2 ** 20, `held at most ${most} bytes`);
  dep.push({ marker: true, payloadType: 96, sequence: 700, timestamp: 0, ssrc: 1, payload: nal(0x41, 10) });
  assert.equal(units.length, 0);
  assert.equal(dep.dropped, 1);
  const fresh = nal(0x41, 20);
  dep.push({ marker: true, payloadType: 96, sequence: 701, timestamp: 3000, ssrc: 1, payload: fresh });
  assert.deepEqual(units.map((u) => u.nalus), [[fresh]]);
});

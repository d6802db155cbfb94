import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { H264Packetizer, RtpStreamState, rtpTime, type RtpPayload } from '../../src/rtp/packetizer.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { encodeClip } from '../support/rtsp-source.js';

const sps = Buffer.from('6742c01fd9005005bb011000000300100000030300f1832480', 'hex');
const pps = Buffer.from('68cb83cb20', 'hex');
const au = (nalus: Buffer[], keyframe = false): AccessUnit => ({ nalus, keyframe, ptsNs: 0, captureMs: 0 });
const nal = (header: number, len: number, fill = 0xab) => {
  const b = Buffer.alloc(len, fill);
  b[0] = header;
  for (let i = 1; i < len; i++) b[i] = i & 0xff;
  return b;
};

/** Reassembles NAL units from payloads following RFC 6184 §5.6 and §5.8 (independent of the packetizer). */
function reassemble(payloads: RtpPayload[]): Buffer[] {
  const out: Buffer[] = [];
  let fu: Buffer[] | undefined;
  for (const { payload } of payloads) {
    const type = payload[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      assert.equal(fu, undefined, 'single NAL inside a fragmented unit');
      out.push(payload);
    } else if (type === 28) {
      const start = (payload[1]! & 0x80) !== 0;
      const end = (payload[1]! & 0x40) !== 0;
      assert.equal(payload[1]! & 0x20, 0, 'FU header R bit must be 0');
      if (start) {
        assert.equal(fu, undefined);
        fu = [Buffer.from([(payload[0]! & 0xe0) | (payload[1]! & 0x1f)])];
      }
      assert.ok(fu, 'FU-A continuation without start');
      fu.push(payload.subarray(2));
      if (end) {
        out.push(Buffer.concat(fu));
        fu = undefined;
      }
    } else assert.fail(`unexpected payload type ${type}`);
  }
  assert.equal(fu, undefined, 'unterminated FU-A');
  return out;
}

test('small NAL units go as single NAL unit packets, marker on the last', () => {
  const p = new H264Packetizer();
  const a = nal(0x06, 20), b = nal(0x41, 300);
  const out = p.packetize(au([a, b]));
  assert.equal(out.length, 2);
  assert.deepEqual(out.map((x) => x.marker), [false, true]);
  assert.equal(out[0]!.payload, a);
  assert.equal(out[1]!.payload, b);
});

test('large NAL units are fragmented as FU-A within the packet size', () => {
  const p = new H264Packetizer({ maxPacketBytes: 100 });
  const big = nal(0x65, 1000);
  const payloads = p.packetize(au([big], true));
  assert.ok(payloads.length > 10);
  for (const x of payloads) assert.ok(x.payload.length + 12 <= 100);
  assert.equal(payloads[0]!.payload[0], (0x65 & 0xe0) | 28, 'FU indicator keeps F and NRI');
  assert.equal(payloads[0]!.payload[1], 0x80 | 5, 'S bit and type');
  assert.equal(payloads.at(-1)!.payload[1], 0x40 | 5, 'E bit and type');
  assert.deepEqual(payloads.map((x) => x.marker).lastIndexOf(true), payloads.length - 1);
  assert.equal(payloads.filter((x) => x.marker).length, 1);
  assert.deepEqual(reassemble(payloads), [big]);
});

test('a NAL unit exactly at the payload limit is not fragmented; one byte more is', () => {
  const p = new H264Packetizer({ maxPacketBytes: 112 });
  assert.equal(p.packetize(au([nal(0x41, 100)])).length, 1);
  const two = p.packetize(au([nal(0x41, 101)]));
  assert.equal(two.length, 2);
  assert.deepEqual(reassemble(two), [nal(0x41, 101)]);
});

test('SPS and PPS go before every IDR; AUD is dropped', () => {
  const p = new H264Packetizer();
  const aud = Buffer.from([0x09, 0x10]);
  const idr = nal(0x65, 50);
  const first = reassemble(p.packetize(au([aud, sps, pps, idr], true)));
  assert.deepEqual(first, [sps, pps, idr]);
  assert.deepEqual(p.sps, sps);
  assert.deepEqual(p.pps, pps);
  // the encoder sent the next IDR without parameter sets: they are inserted before it
  const sei = nal(0x06, 10);
  const second = reassemble(p.packetize(au([aud, sei, idr], true)));
  assert.deepEqual(second, [sei, sps, pps, idr]);
  // non-IDR pictures are left alone
  const pframe = nal(0x41, 30);
  assert.deepEqual(reassemble(p.packetize(au([pframe]))), [pframe]);
  // only the missing one is added
  const third = reassemble(p.packetize(au([pps, idr], true)));

  assert.equal(third.filter((x) => (x[0]! & 0x1f) === 7).length, 1);
  assert.equal(third.filter((x) => (x[0]! & 0x1f) === 8).length, 1);
  assert.equal(third.at(-1), idr);
});

test('empty access units give no packets', () => {
  assert.deepEqual(new H264Packetizer().packetize(au([Buffer.alloc(0), Buffer.from([0x09, 0xf0])])), []);
});

test('RTP header (RFC 3550 §5.1) with per-stream SSRC and sequence wrap', () => {
  const s = new RtpStreamState(96, { ssrc: 0x11223344, seq: 0xffff, timestampBase: 0 });
  const h1 = s.header(false, 0x12345678, 100);
  assert.deepEqual([...h1], [0x80, 96, 0xff, 0xff, 0x12, 0x34, 0x56, 0x78, 0x11, 0x22, 0x33, 0x44]);
  const h2 = s.header(true, 1, 50);
  assert.equal(h2[1], 0x80 | 96);
  assert.equal(h2.readUInt16BE(2), 0);
  assert.equal(s.packetCount, 2);
  assert.equal(s.octetCount, 150);
  const inPlace = Buffer.alloc(16, 0xee);
  s.writeHeader(inPlace, 2, false, 7, 10);
  assert.deepEqual([...inPlace.subarray(2, 14)], [0x80, 96, 0, 1, 0, 0, 0, 7, 0x11, 0x22, 0x33, 0x44], 'same header written in place');
  assert.deepEqual([inPlace[1], inPlace[14]], [0xee, 0xee], 'nothing written outside it');
  const a = new RtpStreamState(), b = new RtpStreamState();
  assert.notEqual(a.ssrc, b.ssrc);
});

test('90 kHz timestamps wrap modulo 2^32', () => {
  assert.equal(rtpTime(1e9, 0), 90000);
  assert.equal(rtpTime(1e9 / 30, 10), 3010);
  assert.equal(rtpTime(1e9, 0xffffffff), 89999);
  assert.equal(rtpTime(86400e9 * 2, 0), (86400 * 2 * 90000) % 2 ** 32);
});

test('a real x264 stream packetized by us decodes in GStreamer (rtph264depay ! avdec_h264)', async () => {
  const w = 320, h = 240, frames = 60;
  const aus = await encodeClip({ width: w, height: h, fps: 30, frames, keyInt: 30 });
  // Keep the first GOP's parameter sets only, so the second IDR relies on the packetizer inserting them.
  const stripped = aus.map((a, i) => (i === 0 ? a : { ...a, nalus: a.nalus.filter((n) => ![7, 8].includes(n[0]! & 0x1f)) }));
  const p = new H264Packetizer({ maxPacketBytes: 600 });
  const s = new RtpStreamState();
  const chunks: Buffer[] = [];
  let fuCount = 0;
  for (const a of stripped) {
    for (const { payload, marker } of p.packetize(a)) {
      if ((payload[0]! & 0x1f) === 28) fuCount++;
      const pkt = Buffer.concat([s.header(marker, rtpTime(a.ptsNs, s.timestampBase), payload.length), payload]);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(pkt.length); // RFC 4571 framing for rtpstreamdepay
      chunks.push(len, pkt);
    }
  }
  assert.ok(fuCount > 0, 'clip should need FU-A at this packet size');
  const launch = `fdsrc fd=0 ! application/x-rtp-stream,media=video,clock-rate=90000,encoding-name=H264,payload=96 ! rtpstreamdepay ! rtph264depay ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! fdsink fd=1`;
  const child = spawn('gst-launch-1.0', ['-q', ...launch.split(' ')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let bytes = 0;
  let err = '';
  child.stdout.on('data', (d: Buffer) => (bytes += d.length));
  child.stderr.on('data', (d: Buffer) => (err += d));
  child.stdin.end(Buffer.concat(chunks));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timer);
  assert.equal(code, 0, err);
  assert.equal(bytes, frames * w * h * 1.5, 'every frame decoded at the right size');
});

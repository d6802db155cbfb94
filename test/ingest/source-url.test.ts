// What each LiveSource URL becomes: the reader, the pipeline, and what is secret. Secrets never
// appear in a launch description, the masked URL or an error message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSourceUrl } from '../../src/ingest/source-url.js';
import { SourceError } from '../../src/ingest/errors.js';
import { captureFromSr, readSenderReport } from '../../src/ingest/rtsp-reader.js';
import { senderReportCompound } from '../../src/rtp/rtcp.js';
import { H264Normalizer, parseCaps } from '../../src/ingest/units.js';
import { Redactor } from '../../src/log.js';

test('rtsp: credentials split off, masked, listed as secrets', () => {
  const s = parseSourceUrl('rtsp://admin:p%40ss%20word@10.0.0.5:8554/cam/1');
  assert.equal(s.kind, 'rtsp');
  assert.deepEqual(s.rtsp, { url: 'rtsp://10.0.0.5:8554/cam/1', username: 'admin', password: 'p@ss word' });
  assert.equal(s.masked, 'rtsp://admin:****@10.0.0.5:8554/cam/1');
  assert.ok(s.secrets.includes('p@ss word'));
  assert.equal(s.launch, undefined);
  const tls = parseSourceUrl('rtsps://admin:secret@cam.local/live');
  assert.deepEqual(tls.rtsp, { url: 'rtsps://cam.local/live', username: 'admin', password: 'secret', tls: true });
  assert.equal(tls.masked, 'rtsps://admin:****@cam.local/live');
});

test('rtmp: the stream key is a secret, the location is a property, not in the description', () => {
  const s = parseSourceUrl('rtmp://relay.example.com/live/sk_live_123456');
  assert.equal(s.kind, 'rtmp');
  assert.equal(s.masked, 'rtmp://relay.example.com/live/****');
  assert.ok(s.secrets.includes('sk_live_123456'));
  assert.doesNotMatch(s.launch!, /sk_live/);
  assert.equal(s.properties!.in!.location, 'rtmp://relay.example.com/live/sk_live_123456');
  assert.throws(() => parseSourceUrl('rtmp://relay.example.com/onlykey'), (e: SourceError) => e.code === 'BAD_URL' && !e.message.includes('onlykey'));
});

test('http(s), files, devices, the test pattern', () => {
  const h = parseSourceUrl('https://user:tok3n@cdn.example.com/live/index.m3u8');
  assert.equal(h.kind, 'http');
  assert.equal(h.masked, 'https://user:****@cdn.example.com/live/index.m3u8');
  assert.doesNotMatch(h.launch!, /tok3n/);
  const f = parseSourceUrl('/data/my video.mp4');
  assert.equal(f.kind, 'file');
  assert.equal(f.path, '/data/my video.mp4');
  assert.equal(f.properties!.in!.location, '/data/my video.mp4');
  assert.match(f.launch!, /fdsink fd=1 sync=true/, 'files play at their own pace by default');
  assert.match(parseSourceUrl('/data/a.mp4', { filePace: 'fast' }).launch!, /sync=false/);
  assert.equal(parseSourceUrl('file:///data/a%20b.mkv').path, '/data/a b.mkv');
  assert.equal(parseSourceUrl('/dev/video2').kind, 'v4l2');
  assert.equal(parseSourceUrl('v4l2:///dev/video0').properties!.in!.device, '/dev/video0');
  const t = parseSourceUrl('testsrc://smpte?width=160&height=120&fps=15');
  assert.match(t.launch!, /pattern=smpte ! video\/x-raw,width=160,height=120,framerate=15000\/1000/);
  assert.throws(() => parseSourceUrl('testsrc://x?fps=-1'), /testsrc fps=-1 is not a positive number/);
  assert.throws(() => parseSourceUrl('gopher://x'), (e: SourceError) => e.code === 'BAD_URL' && /unsupported URL scheme "gopher:"/.test(e.message));
  assert.throws(() => parseSourceUrl(''), (e: SourceError) => e.code === 'BAD_URL');
});

test('property: a password or stream key never appears in the masked URL or the launch description', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9_~-]{6,24}$/).map((s) => `Q${s}Z`), fc.constantFrom('rtsp', 'rtmp', 'http'), (secret, scheme) => {
      const url = scheme === 'rtmp' ? `rtmp://h.example/live/${secret}` : `${scheme}://user:${secret}@h.example/path/x`;
      const s = parseSourceUrl(url);
      assert.ok(!s.masked.includes(secret), s.masked);
      assert.ok(!(s.launch ?? '').includes(secret));
      assert.ok(s.secrets.includes(secret));
    }),
  );
});

test('RTCP sender report → capture time of any RTP time, across the 32-bit wrap', () => {
  const sr = senderReportCompound({ ssrc: 7, ntpMs: 1_700_000_000_123.5, rtpTime: 0xffff_ff00, packetCount: 1, octetCount: 1 }, 'x');
  const got = readSenderReport(sr)!;
  assert.equal(got.ssrc, 7);
  assert.ok(Math.abs(got.ntpMs - 1_700_000_000_123.5) < 0.001);
  assert.equal(got.rtp, 0xffff_ff00);
  // 90 kHz: 9000 ticks after the report (wrapped past 2^32) is 100 ms later; 900 before is 10 ms earlier.
  assert.ok(Math.abs(captureFromSr((0xffff_ff00 + 9000) % 2 ** 32, got) - (got.ntpMs + 100)) < 1e-6);
  assert.ok(Math.abs(captureFromSr(0xffff_ff00 - 900, got) - (got.ntpMs - 10)) < 1e-6);
  assert.equal(readSenderReport(Buffer.from([1, 2, 3])), undefined);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
    readSenderReport(Buffer.from(b)); // never throws
  }));
});

test('caps and H.264 units: avc samples become Annex-B, keyframes get the parameter sets', () => {
  const sps = Buffer.from('6742c01e8c8d40a0fd00f08846a0', 'hex');
  const pps = Buffer.from('68ce3c80', 'hex');
  const avcC = Buffer.concat([Buffer.from([1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps]);
  const caps = parseCaps(`video/x-h264, stream-format=(string)avc, alignment=(string)au, codec_data=(buffer)${avcC.toString('hex')}, width=(int)320, height=(int)240, framerate=(fraction)30000/1001`);
  assert.equal(caps.codec, 'video/x-h264');
  assert.equal(caps.width, 320);
  assert.ok(Math.abs(caps.fps! - 29.97) < 0.01);
  const n = new H264Normalizer();
  n.setCaps(caps);
  const idr = Buffer.from([0x65, 1, 2, 3]);
  const sample = Buffer.concat([Buffer.from([0, 0, 0, idr.length]), idr]);
  const u = n.fromBuffer(sample);
  assert.equal(u.keyframe, true);
  const sc = Buffer.from([0, 0, 0, 1]);
  assert.deepEqual(u.data, Buffer.concat([sc, sps, sc, pps, sc, idr]));
  const p = n.fromBuffer(Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from([0x41, 9, 9])]));
  assert.equal(p.keyframe, false);
  assert.deepEqual(p.data, Buffer.concat([sc, Buffer.from([0x41, 9, 9])]));
});

test('arrival clock: PTS-spaced, never in the future, never backwards when a unit arrives early', async () => {
  const { ArrivalClock } = await import('../../src/ingest/capture-clock.js');
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 100 }), (delays) => {
      const c = new ArrivalClock();
      let last = -Infinity;
      delays.forEach((delay, i) => {
        const pts = i * 33_333_333;
        const arrival = 1_000_000 + i * 33.333 + delay;
        const t = c.captureMs(pts, arrival);
        // Not after its arrival, unless nudged just past an earlier picture that arrived late.
        assert.ok(t <= Math.max(arrival, last + 0.01), 'not in the future');
        assert.ok(t > last, 'increasing');
        last = t;
      });
    }),
  );
});

test('masked output for each URL shape: userinfo, query tokens, RTMP keys before a slash or in the query; scrubbed from error text', () => {
  const session = 'CiAbCdEf-SessionToken-0123456789';
  const shapes: Array<{ url: string; masked: string; secret: string }> = [
    { url: 'rtsp://admin:abc@10.0.0.5/cam', masked: 'rtsp://admin:****@10.0.0.5/cam', secret: 'abc' },
    { url: 'rtsp://10.0.0.5/cam?token=rtsp-query-token', masked: 'rtsp://10.0.0.5/cam?token=****', secret: 'rtsp-query-token' },
    { url: 'http://cam.local/video.mjpg?user=admin&pwd=httpPass9', masked: 'http://cam.local/video.mjpg?user=****&pwd=****', secret: 'httpPass9' },
    {
      url: `https://b-1234.kinesisvideo.eu-west-1.amazonaws.com/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=${session}`,
      masked: 'https://b-1234.kinesisvideo.eu-west-1.amazonaws.com/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=****',
      secret: session,
    },
    { url: 'rtmp://relay.example.com/live/slashKey42/', masked: 'rtmp://relay.example.com/live/****', secret: 'slashKey42' },
    { url: 'rtmp://relay.example.com/live/stream?key=queryKey42', masked: 'rtmp://relay.example.com/live/****', secret: 'queryKey42' },
  ];
  for (const { url, masked, secret } of shapes) {
    const s = parseSourceUrl(url);
    assert.equal(s.masked, masked, url);
    assert.ok(!s.secrets.includes(''), `${url}: no empty secret`);
    const r = new Redactor();
    for (const x of s.secrets) r.add(x);
    const text = r.scrub(`could not open ${url}: ${secret} refused`);
    assert.ok(!text.includes(secret), `${url}: ${text}`);
  }
});

test('keyframeInterval is a number, never text for the launch string', () => {
  for (const bad of ['30 ! filesink location=/tmp/pwn', '30', 0, 1.5, -1, NaN]) {
    assert.throws(() => parseSourceUrl('testsrc://ball', { keyframeInterval: bad as number }), RangeError, String(bad));
  }
  assert.match(parseSourceUrl('testsrc://ball', { keyframeInterval: 15 }).launch!, /key-int-max=15 /);
});

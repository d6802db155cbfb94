import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, sleep, withDefaults } from '../../src/backoff.js';
import { describePipeline } from '../../src/pipeline-description.js';
import { Warmup } from '../../src/warmup.js';
import { layoutOf } from '../../src/frame.js';

const settings = { bitrate: 2000, keyframeInterval: 60, speedPreset: 'ultrafast' };
const shape = { width: 640, height: 360, framerate: '30000/1001', encoder: 'x264enc' as const };

test('raw frames are scaled, converted and encoded, then parsed into byte-stream access units for the tap', () => {
  const d = describePipeline(shape, settings);
  const parts = d.split(' ! ');
  assert.match(parts[0]!, /^appsrc name=src is-live=true format=time .*caps=video\/x-raw,format=BGR,width=640,height=360,framerate=30000\/1001/);
  assert.ok(parts.includes('video/x-raw,format=I420,width=640,height=360,framerate=30000/1001,pixel-aspect-ratio=1/1'));
  assert.ok(parts.some((p) => p.startsWith('x264enc name=encoder tune=zerolatency speed-preset=ultrafast bitrate=2000 key-int-max=60 bframes=0')));
  assert.ok(parts.includes('video/x-h264,profile=constrained-baseline'));
  assert.deepEqual(parts.slice(-5, -3), ['h264parse name=parse config-interval=-1', 'video/x-h264,stream-format=byte-stream,alignment=au']);
});

test('a tap sends RTP over TCP to a loopback receiver, timestamps from PTS 0; port and SSRC are set per attempt, not described', () => {
  const d = describePipeline(shape, settings);
  assert.match(d, /video\/x-h264,stream-format=byte-stream,alignment=au ! rtph264pay name=tappay .*timestamp-offset=0 ! rtpstreampay ! tcpclientsink name=tapclient host=127\.0\.0\.1 sync=false$/);
  assert.doesNotMatch(d, /port=|ssrc=/);
});

test('backoff doubles up to its cap; sleep ends early on abort', async () => {
  const r = withDefaults({ initialDelayMs: 100, maxDelayMs: 1000 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, r)), [100, 200, 400, 800, 1000, 1000]);
  assert.deepEqual(withDefaults(), { initialDelayMs: 500, maxDelayMs: 10_000, factor: 2 });
  const c = new AbortController();
  const waiting = sleep(60_000, c.signal);
  c.abort();
  await waiting; // resolves at once; a hang would time the test out
});

test('warmup keeps every frame, measures fps, and ends early when its budget fills', () => {
  const layout = layoutOf('BGR', 16, 16);
  const slot = (i: number) => ({ data: Buffer.alloc(layout.gstSize), layout, ptsNs: 0, captureMs: 1000 + i * 50 });
  const w = new Warmup(true, 10, 1 << 30);
  for (let i = 0; i < 9; i++) assert.equal(w.add(slot(i)), false);
  assert.equal(w.add(slot(9)), true);
  assert.equal(w.fps(), 20);
  assert.equal(w.take().length, 10);
  assert.equal(w.frames.length, 0);
  const small = new Warmup(true, 100, layout.gstSize * 3);
  assert.equal(small.add(slot(0)), false);
  assert.equal(small.add(slot(1)), false);
  assert.equal(small.add(slot(2)), true, 'three frames fill the budget');
  assert.equal(small.full, true);
  const sizeOnly = new Warmup(false, 100, 1 << 30);
  assert.equal(sizeOnly.add(slot(0)), true, 'only the size was wanted: one frame is enough');
  assert.equal(sizeOnly.fps(30), 30);
});

test('frameThreads turns x264 slices into frame threads; other encoders ignore it', () => {
  const sliced = describePipeline(shape, settings);
  const framed = describePipeline(shape, { ...settings, frameThreads: true });
  assert.doesNotMatch(sliced, /sliced-threads/);
  assert.match(framed, /x264enc name=encoder [^!]*bframes=0 sliced-threads=false ! /);
  const openh264 = describePipeline({ ...shape, encoder: 'openh264enc' }, { ...settings, frameThreads: true });
  assert.doesNotMatch(openh264, /sliced-threads/);
});

// LiveSource's watchdogMs: a stream whose connection stays open but carries no media counts as
// lost after watchdogMs (README: STREAM_LOST, then reconnecting), and frames come again by
// themselves once the source sends again. The source is our RTSPSkyLine, fed and then not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveSource, RTSPSkyLine, type SourceFrame } from '../../src/index.js';
import { indexOf } from '../support/frames.js';
import { feedIndexed } from '../support/ingest-material.js';
import { captureLogger } from '../support/quiet.js';
import { waitFor } from '../support/wait.js';

const W = 320, H = 240, FPS = 30;

test('watchdogMs: an open connection without media is STREAM_LOST after watchdogMs, then reconnecting; frames come again when the source does', async () => {
  const sky = new RTSPSkyLine({ port: 0, keyframeInterval: 15, statsIntervalMs: 0, stopTimeoutMs: 3000, logger: captureLogger('warn').logger });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  let feed = feedIndexed(sky, { fps: FPS, width: W, height: H, t0: Date.now() });
  const s = new LiveSource({ url: sky.url, watchdogMs: 1500, queueFrames: 256, reconnect: { initialDelayMs: 200, maxDelayMs: 1000 }, logger: captureLogger('error').logger });
  const errors: Array<Error & { code?: string }> = [];
  const states: string[] = [];
  s.on('error', (e) => errors.push(e));
  s.on('state', (st: string) => states.push(st));
  const frames: SourceFrame[] = [];
  try {
    await s.start();
    void (async () => {
      for await (const f of s) frames.push(f);
    })();
    await waitFor(() => frames.length >= 10, 20_000, 'frames while the source sends');
    assert.equal(errors.length, 0, errors.map((e) => e.message).join("; "));

    feed.stop(); // the RTSP connection stays open; no more pictures
    await waitFor(() => errors.length > 0, 30_000, 'the watchdog to report the silent stream');
    assert.equal(errors[0]!.code, 'STREAM_LOST');
    assert.equal(errors[0]!.message, 'no media for 1.5 s');
    await waitFor(() => states.includes('reconnecting'), 10_000, 'reconnecting');

    const before = frames.length;
    feed = feedIndexed(sky, { fps: FPS, width: W, height: H, t0: Date.now() });
    await waitFor(() => frames.length >= before + 10 && s.state === 'streaming', 30_000, 'frames again once the source sends');
    const idx = frames.slice(before).map(indexOf);
    assert.ok(idx.every((i) => i >= 0), `readable pictures after the reconnect: ${idx}`);
    assert.deepEqual(errors.map((e) => e.code).filter((c) => c !== 'STREAM_LOST'), [], 'no other error');
  } finally {
    feed.stop();
    await s.close();
    await sky.close();
  }
});

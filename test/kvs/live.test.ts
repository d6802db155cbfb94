// Against real AWS: runs only when KVS_LIVE_TEST_STREAM names a stream and AWS credentials
// are in the environment (or a profile); otherwise skipped, saying so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVSSkyLine } from '../../src/kvs/kvs-skyline.js';
import { solid } from '../support/frames.js';
import { captureLogger } from '../support/quiet.js';

const stream = process.env.KVS_LIVE_TEST_STREAM;
const region = process.env.KVS_LIVE_TEST_REGION ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
const haveCreds = Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE || process.env.AWS_WEB_IDENTITY_TOKEN_FILE || process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI || process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI);
const skip = !stream
  ? 'live KVS test skipped: set KVS_LIVE_TEST_STREAM (and AWS credentials, region) to run it'
  : !region
    ? 'live KVS test skipped: set KVS_LIVE_TEST_REGION or AWS_REGION'
    : !haveCreds
      ? 'live KVS test skipped: no AWS credentials in the environment'
      : false;

test('live: 5 s of video reach a real KVS stream and are PERSISTED', { skip, timeout: 120_000 }, async () => {
  const log = captureLogger('info');
  const sky = new KVSSkyLine({
    streamName: stream!,
    region: region!,
    createStream: process.env.KVS_LIVE_TEST_CREATE === '1',
    sink: 'putmedia',
    keyframeInterval: 30,
    fragmentSeconds: 1,
    logger: log.logger,
  });
  const persisted: number[] = [];
  sky.on('ack', (a) => {
    if (a.EventType === 'PERSISTED' && a.latencyMs !== undefined) persisted.push(a.latencyMs);
  });
  const errors: Error[] = [];
  sky.on('error', (e) => errors.push(e));
  try {
    await sky.startStreaming({ fps: 30, width: 640, height: 360 });
    const t0 = Date.now();
    for (let i = 0; i < 150; i++) {
      await sky.putAsync(solid(640, 360, [i % 255, 80, 200]), { timestamp: t0 + (i * 1000) / 30 });
      await new Promise((r) => setTimeout(r, 1000 / 30));
    }
    await sky.stopStreaming();
    assert.deepEqual(errors, []);
    const st = sky.stats();
    assert.ok((st.kvs?.fragmentsPersisted ?? 0) >= 4, `persisted ${st.kvs?.fragmentsPersisted}`);
    assert.equal(st.kvs?.fragmentsDropped, 0);
    console.log(`# live KVS: ${st.kvs?.fragmentsPersisted} fragments persisted, latency p50 ${st.kvs?.persistLatencyMs.p50} ms, max ${st.kvs?.persistLatencyMs.max} ms`);
  } finally {
    await sky.close();
  }
});

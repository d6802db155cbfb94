// Publish to an RTMP relay (nginx-rtmp, MediaMTX, Chrysalis, YouTube...). The relay may be
// down or restart: the SkyLine reconnects by itself, and the events below show it.
//   RTMP_URL=rtmp://127.0.0.1/live/STREAM_KEY node --import tsx examples/rtmp-publish.ts
// The stream key is a secret: keep it in the environment or .env, never in code.
import { PatternSource, RtmpSkyLine } from 'gst-skyline';
import { untilStopped } from './until-stopped.js';

const url = process.env.RTMP_URL;
if (!url) throw new Error('set RTMP_URL, e.g. rtmp://127.0.0.1/live/demo');

const sky = new RtmpSkyLine({ url, keyframeInterval: 60, reconnect: { initialDelayMs: 500, maxDelayMs: 5000 } });
console.log(`publishing to ${sky.destination}`); // the key is masked: rtmp://host:1935/live/****
sky.on('state', (state, previous) => console.log(`state ${previous} -> ${state}`));
sky.on('error', (err) => console.log(`relay error: ${err.message}`));
sky.on('reconnect', ({ attempt, delayMs }) => console.log(`reconnect #${attempt} in ${delayMs} ms`));

await sky.startStreaming({ fps: 30, width: 640, height: 360 });
let dropped = 0;
for await (const frame of new PatternSource({ fps: 30, width: 640, height: 360, signal: untilStopped() })) {
  // put() never blocks; false while the relay is away (the frame is dropped and counted).
  if (!sky.put(frame, { timestamp: frame.timestamp })) dropped++;
}
await sky.close();
console.log(`done: ${sky.stats().framesEncoded} frames sent, ${dropped} dropped while the relay was away`);

// npm start: records a 10-second annotated demo clip with FileSkyLine and says where it went.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { FileSkyLine } from 'gst-skyline';
import { TestPattern } from './pattern.js';

const out = resolve(process.env.SKYLINE_DEMO_OUT ?? 'recordings/demo.mp4');
mkdirSync(resolve(out, '..'), { recursive: true });
const fps = 30;
const seconds = Number(process.env.SKYLINE_DEMO_SECONDS ?? 10);
const pattern = new TestPattern(1280, 720);
const sky = new FileSkyLine({ path: out, statsIntervalMs: 0 });
sky.on('error', (err) => console.error(`error: ${err.message}`));

await sky.startStreaming({ fps, width: 1280, height: 720 });
console.log(`recording ${seconds} s of 1280x720@${fps} to ${sky.path}`);
let i = 0;
await new Promise<void>((done) => {
  const timer = setInterval(() => {
    sky.put(pattern.frame(i++));
    if (i >= seconds * fps) {
      clearInterval(timer);
      done();
    }
  }, 1000 / fps);
});
await sky.stopStreaming();
const s = sky.stats();
console.log(`done: ${s.framesEncoded} frames, ${(s.bytesOut / 1024).toFixed(0)} KiB -> ${sky.path}`);
console.log(`timestamps: ${sky.timestampsPath}`);
console.log(`play it: ffplay ${sky.path}`);
await sky.close();

// Record to a fragmented MP4 with the timestamps sidecar (one CSV row per frame: index,
// capture time, presentation time), then read the sidecar back.
//   node --import tsx examples/record-file.ts [out.mp4]      (Ctrl-C stops)
import { readFile } from 'node:fs/promises';
import { FileSkyLine, PatternSource, parseSidecar } from 'gst-skyline';
import { untilStopped } from './until-stopped.js';

const sky = new FileSkyLine({ path: process.argv[2] ?? 'recordings/pattern.mp4' });
sky.on('error', (err) => console.error(err.message));

// Giving fps and size skips the warmup that would otherwise measure them.
await sky.startStreaming({ fps: 30, width: 640, height: 360 });
const camera = new PatternSource({ fps: 30, width: 640, height: 360, signal: untilStopped() });
for await (const frame of camera) {
  // A real program detects and draws here; the capture time keeps playback at real speed.
  sky.put(frame, { timestamp: frame.timestamp });
}
await sky.stopStreaming(); // everything accepted is encoded and the file is complete
const rows = parseSidecar(await readFile(sky.timestampsPath!, 'utf8'));
console.log(`recorded ${rows.length} frames to ${sky.path} (sidecar ${sky.timestampsPath})`);
console.log('last frame:', rows.at(-1));
await sky.close();

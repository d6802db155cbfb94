// A clean shutdown on Ctrl-C: stop taking frames, let the encoder drain what was accepted,
// close the file, exit 0. A second Ctrl-C exits at once (the MP4 is fragmented, so even
// then it plays up to its last fragment).
//   node --import tsx examples/shutdown.ts [out.mp4]     then press Ctrl-C
import { FileSkyLine, PatternSource } from 'gst-skyline';

const sky = new FileSkyLine({ path: process.argv[2] ?? 'recordings/until-ctrl-c.mp4' });
sky.on('error', (err) => console.error(err.message));
const camera = new PatternSource({ fps: 30, width: 640, height: 360 });

process.once('SIGINT', () => {
  console.log('Ctrl-C: finishing the file…');
  camera.stop(); // ends the loop below
  process.once('SIGINT', () => process.exit(130));
});

await sky.startStreaming({ fps: 30, width: 640, height: 360 });
console.log(`recording to ${sky.path}; Ctrl-C to stop`);
for await (const frame of camera) sky.put(frame, { timestamp: frame.timestamp });
const accepted = sky.stats().framesAccepted;
await sky.stopStreaming(); // EOS: every accepted frame is encoded and written
await sky.close();
console.log(`stopped cleanly: ${accepted} frames in ${sky.path}`);

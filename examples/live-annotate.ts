// The whole loop: read a camera or relay with LiveSource, draw on each frame, republish.
//   node --import tsx examples/live-annotate.ts rtsp://camera.local/stream
//   ffplay -rtsp_transport tcp rtsp://127.0.0.1:8554/annotated
// The source may be rtsp://, rtmp:// (a Chrysalis relay), http(s):// (HLS, MJPEG), a file or /dev/video0.
import { createCanvas, ImageData } from '@napi-rs/canvas';
import { LiveSource, RTSPSkyLine } from 'gst-skyline';
import { untilStopped } from './until-stopped.js';

const url = process.argv[2];
if (!url) throw new Error('usage: live-annotate.ts <camera url>');
const width = 640;
const height = 360;

// RGBA at 640x360, scaled in GStreamer: ready for the canvas.
const source = new LiveSource({ url, format: 'RGBA', width, height });
source.on('reconnect', ({ attempt, delayMs }) => console.log(`camera lost, retry ${attempt} in ${delayMs} ms`));
source.on('error', (err) => console.error(`camera: ${err.message}`));
const sky = new RTSPSkyLine({ port: Number(process.env.SKYLINE_RTSP_PORT ?? 8554), path: '/annotated' });
sky.on('error', (err) => console.error(err.message));

const canvas = createCanvas(width, height);
const ctx = canvas.getContext('2d');
untilStopped().addEventListener('abort', () => void source.stop()); // ends the loop below

await source.start();
await sky.startStreaming({ width, height, fps: null }); // the camera's rate is measured
console.log(`annotated stream: ${sky.url}`);
for await (const frame of source) {
  ctx.putImageData(new ImageData(new Uint8ClampedArray(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength), width, height), 0, 0);
  // Your detector goes here; we label the frame with its capture time and how old it is.
  const age = Date.now() - frame.timestamp;
  ctx.fillStyle = 'rgba(0, 0, 0, 0.6)';
  ctx.fillRect(0, height - 30, width, 30);
  ctx.fillStyle = '#ffff00';
  ctx.font = '16px sans-serif';
  ctx.fillText(`captured ${new Date(frame.timestamp).toISOString()} (${age} ms ago)`, 8, height - 10);
  // The camera's capture time travels on: players and recordings keep the camera's timeline.
  sky.put(ctx.getImageData(0, 0, width, height), { timestamp: frame.timestamp });
}
await source.close();
await sky.close();
console.log('stopped');

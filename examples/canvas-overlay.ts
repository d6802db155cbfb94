// Draw boxes and labels with @napi-rs/canvas (prebuilt binaries through npm, no system
// libraries) on each frame, and republish the result over RTSP.
//   npm install @napi-rs/canvas
//   node --import tsx examples/canvas-overlay.ts     -> rtsp://127.0.0.1:8554/annotated
import { createCanvas } from '@napi-rs/canvas';
import { PatternSource, RTSPSkyLine } from 'gst-skyline';
import { untilStopped } from './until-stopped.js';

const width = 640;
const height = 360;
const canvas = createCanvas(width, height);
const ctx = canvas.getContext('2d');
const image = ctx.createImageData(width, height); // RGBA, reused for every frame

const sky = new RTSPSkyLine({ port: Number(process.env.SKYLINE_RTSP_PORT ?? 8554), path: '/annotated' });
sky.on('error', (err) => console.error(err.message));
await sky.startStreaming({ fps: 30, width, height });
console.log(`annotated stream: ${sky.url}`);

for await (const frame of new PatternSource({ fps: 30, width, height, signal: untilStopped() })) {
  // The camera's BGR pixels onto the canvas (a real program would decode straight to RGBA).
  const src = frame.data;
  const dst = image.data;
  for (let i = 0, j = 0; i < src.length; i += 3, j += 4) {
    dst[j] = src[i + 2]!;
    dst[j + 1] = src[i + 1]!;
    dst[j + 2] = src[i]!;
    dst[j + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);

  // What a detector found (here: a made-up box that follows the frame index).
  const box = { x: 40 + (frame.index * 4) % (width - 200), y: 200, w: 120, h: 100, label: 'person', score: 0.87 };
  ctx.strokeStyle = '#00ff66';
  ctx.lineWidth = 4;
  ctx.strokeRect(box.x, box.y, box.w, box.h);
  ctx.font = 'bold 18px sans-serif';
  const text = `${box.label} ${(box.score * 100).toFixed(0)}%`;
  ctx.fillStyle = '#00ff66';
  ctx.fillRect(box.x - 2, box.y - 26, ctx.measureText(text).width + 12, 24);
  ctx.fillStyle = '#000000';
  ctx.fillText(text, box.x + 4, box.y - 8);

  // Canvas ImageData is RGBA: put() takes it as it is.
  sky.put(ctx.getImageData(0, 0, width, height), { timestamp: frame.timestamp });
}
await sky.close();

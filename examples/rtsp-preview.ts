// A live preview over RTSP: any player can watch while frames are put.
//   node --import tsx examples/rtsp-preview.ts
//   ffplay -rtsp_transport tcp rtsp://127.0.0.1:8554/preview
import { PatternSource, RTSPSkyLine } from 'gst-skyline';
import { untilStopped } from './until-stopped.js';

const sky = new RTSPSkyLine({
  port: Number(process.env.SKYLINE_RTSP_PORT ?? 8554), // 0: any free port
  host: process.env.SKYLINE_RTSP_HOST ?? '127.0.0.1', // 0.0.0.0 to be seen from other machines
  path: '/preview',
});
sky.on('error', (err) => console.error(err.message));
sky.on('stats', () => console.log(`viewers ${sky.stats().clients}, frames ${sky.stats().framesEncoded}`));

await sky.startStreaming({ fps: 30, width: 1280, height: 720 });
console.log(`watch: ffplay -rtsp_transport tcp ${sky.url}`);
for await (const frame of new PatternSource({ fps: 30, signal: untilStopped() })) {
  sky.put(frame, { timestamp: frame.timestamp });
}
await sky.close(); // stops streaming, says goodbye to viewers, closes the server

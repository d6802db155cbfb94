// Several streams on one RTSP server: one port, one path per camera.
//   node --import tsx examples/multi-rtsp.ts     -> rtsp://127.0.0.1:8554/cam1, /cam2, /cam3
import { PatternSource, RTSPServer, RTSPSkyLine } from 'gst-skyline';
import { untilStopped } from './until-stopped.js';

const server = new RTSPServer({ port: Number(process.env.SKYLINE_RTSP_PORT ?? 8554), host: '127.0.0.1' });
await server.listen();
const stop = untilStopped();

const cameras = [1, 2, 3].map(async (n) => {
  const sky = new RTSPSkyLine({ server, path: `/cam${n}`, bitrate: 800 });
  sky.on('error', (err) => console.error(`cam${n}: ${err.message}`));
  await sky.startStreaming({ fps: 15, width: 320 * n, height: 240 }); // each its own size
  console.log(`cam${n}: ${sky.url}`);
  for await (const frame of new PatternSource({ fps: 15, width: 320 * n, height: 240, signal: stop })) {
    sky.put(frame, { timestamp: frame.timestamp });
  }
  await sky.close(); // removes its path; the shared server stays up
});
await Promise.all(cameras);
await server.close();

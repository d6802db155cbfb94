// A live preview in the browser: open the printed URL in Chrome, Edge or Firefox. The page
// decodes with WebCodecs on localhost/HTTPS (tens of ms behind) and falls back to MSE.
//   node --import tsx examples/web-preview.ts      -> http://127.0.0.1:8889/live
import { PatternSource, WebSkyLine } from 'gst-skyline';
import { untilStopped } from './until-stopped.js';

const sky = new WebSkyLine({
  port: Number(process.env.SKYLINE_WEB_PORT ?? 8889), // 0: any free port
  host: '127.0.0.1', // 0.0.0.0 for other machines (then browsers use MSE: not a secure context)
  path: '/live',
});
sky.on('error', (err) => console.error(err.message));
sky.on('stats', () => console.log(`viewers ${sky.stats().viewers}, frames ${sky.stats().framesEncoded}`));

await sky.startStreaming({ fps: 30, width: 1280, height: 720 });
console.log(`open ${sky.url}`);
for await (const frame of new PatternSource({ fps: 30, signal: untilStopped() })) {
  sky.put(frame, { timestamp: frame.timestamp });
}
await sky.close();

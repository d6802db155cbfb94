// Annotate a recorded video into a new file: every frame of the input is read (LiveSource,
// no frame dropped), drawn on with @napi-rs/canvas, and written with frame-rate timestamps
// (frame n at n / fps), so the output plays at the input's rate however long drawing took.
//   node --import tsx examples/annotate-file.ts in.mp4 [out.mp4]
import { createCanvas, ImageData, type SKRSContext2D } from '@napi-rs/canvas';
import { FileSkyLine, LiveSource } from 'gst-skyline';

const [input, output = 'recordings/annotated.mp4'] = process.argv.slice(2);
if (!input) throw new Error('usage: annotate-file.ts in.mp4 [out.mp4]');

// filePace 'fast': as fast as we take frames, and the reader waits for us instead of dropping.
const source = new LiveSource({ url: input, format: 'RGBA', filePace: 'fast' });
source.on('error', (err) => console.error(`reading ${input}: ${err.message}`));
// 'frame-rate': frame n gets PTS n / fps, fps measured from the input's capture times (the
// sidecar keeps those capture times too).
const sky = new FileSkyLine({ path: output, timestamps: 'frame-rate' });
sky.on('error', (err) => console.error(err.message));
await sky.startStreaming({ fps: null, width: null, height: null });

let n = 0;
const reading = (async () => {
  let ctx: SKRSContext2D | undefined;
  for await (const frame of source) {
    ctx ??= createCanvas(frame.width, frame.height).getContext('2d');
    ctx.putImageData(new ImageData(new Uint8ClampedArray(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength), frame.width, frame.height), 0, 0);
    ctx.strokeStyle = '#ff00ff';
    ctx.lineWidth = 4;
    ctx.strokeRect(frame.width / 4, frame.height / 4, frame.width / 2, frame.height / 2);
    ctx.fillStyle = '#ff00ff';
    ctx.font = 'bold 16px sans-serif';
    ctx.fillText(`frame ${n}`, frame.width / 4, frame.height / 4 - 6);
    // putAsync() waits for room in the queue instead of dropping: offline work loses nothing.
    await sky.putAsync(ctx.getImageData(0, 0, frame.width, frame.height), { timestamp: frame.timestamp });
    n++;
  }
})();
await source.start(); // the loop above was already waiting, so it gets the very first frame
await reading; // ends at the end of the file
await sky.stopStreaming();
console.log(`annotated ${n} frames at ${Number(sky.videoFps?.toFixed(3))} fps into ${sky.path ?? output}`);
await source.close();
await sky.close();

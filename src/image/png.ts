// One frame to a PNG file, encoded by GStreamer's pngenc (no image library needed).
import { adaptFrame, checkFrameSize, copyToGst, layoutOf, rawCaps, type RawFrame } from '../frame.js';
import { Pipeline } from '../gst/pipeline.js';

/** Writes `frame` (any format put() takes) to `path` as PNG; resolves once the file is complete. */
export async function savePng(frame: unknown, path: string, timeoutMs = 10_000): Promise<void> {
  const f = adaptFrame(frame, {} as RawFrame);
  const layout = layoutOf(f.format, f.width, f.height);
  checkFrameSize(f, layout);
  const data = Buffer.alloc(layout.gstSize);
  copyToGst(f.data, layout, data);
  const pipeline = new Pipeline(`appsrc name=src format=time caps=${rawCaps(layout, '0/1')} ! videoconvert ! pngenc snapshot=true ! filesink name=out sync=false`);
  pipeline.set('out', 'location', path); // after parsing: any path, no quoting
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`writing ${path} took longer than ${timeoutMs} ms`)), timeoutMs);
      pipeline.play({
        onStarted: () => undefined,
        onEos: () => {
          clearTimeout(timer);
          resolve();
        },
        onError: (err) => {
          clearTimeout(timer);
          reject(new Error(`cannot write ${path}: ${err.message}`));
        },
      });
      pipeline.appsrc('src').push(data, 0);
      pipeline.sendEos();
    });
  } finally {
    pipeline.stop();
  }
}

/**
 * The ingest half of a GStreamer-read LiveSource, run as a child process (see gst-reader.ts).
 *
 * The parent sends { launch, properties } over IPC; this process builds the pipeline, sets the
 * properties (secret URLs never reach a command line), watches the bus and reports errors,
 * EOS and start over IPC, while the encoded units go out on stdout as GDP (fdsink fd=1).
 * Watching the bus here costs a threadpool thread of this process, not of the application's;
 * a crashing demuxer takes down this process, not the application.
 */
import { Pipeline } from '../gst/pipeline.js';

export interface WorkerRequest {
  launch: string;
  properties?: Record<string, Record<string, string | number | boolean>>;
}

export type WorkerReport =
  | { type: 'started' }
  | { type: 'eos' }
  | { type: 'error'; element: string; message: string; debug?: string };

let pipeline: Pipeline | undefined;

function send(r: WorkerReport): void {
  if (process.connected) process.send!(r);
}

function shutdown(code: number): void {
  try {
    pipeline?.stop();
  } finally {
    process.exit(code);
  }
}

process.once('message', (req: WorkerRequest) => {
  try {
    pipeline = new Pipeline(req.launch);
    for (const [element, props] of Object.entries(req.properties ?? {})) {
      for (const [k, v] of Object.entries(props)) pipeline.set(element, k, v);
    }
  } catch (err) {
    send({ type: 'error', element: 'pipeline', message: (err as Error).message });
    setTimeout(() => shutdown(2), 50);
    return;
  }
  let started = false;
  pipeline.play({
    onStarted: () => {
      if (started) return;
      started = true;
      send({ type: 'started' });
    },
    onEos: () => {
      send({ type: 'eos' });
      // Let stdout drain before leaving; the parent sees the pipe end.
      setTimeout(() => shutdown(0), 50);
    },
    onError: (e) => {
      send({ type: 'error', element: e.element, message: e.message, debug: e.debug });
      setTimeout(() => shutdown(1), 50);
    },
  });
});

// The parent went away (closed the source, or died): nothing left to read for.
process.on('disconnect', () => shutdown(0));

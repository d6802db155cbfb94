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

/** Reports, then leaves at once: the parent decides what happens next. */
function send(r: WorkerReport, thenExit = false): void {
  if (!process.connected) {
    if (thenExit) die();
    return;
  }
  process.send!(r, undefined, {}, () => {
    if (thenExit) die();
  });
}

// Everything this process wrote is already in the pipe (fdsink writes synchronously), and pipes
// keep their contents after the writer is gone. Stopping the pipeline could block on a stuck
// element (and Node's exit hook stops watched pipelines), so the process ends without it.
function die(): never {
  process.kill(process.pid, 'SIGKILL');
  process.exit(1);
}

process.once('message', (req: WorkerRequest) => {
  try {
    pipeline = new Pipeline(req.launch);
    for (const [element, props] of Object.entries(req.properties ?? {})) {
      for (const [k, v] of Object.entries(props)) pipeline.set(element, k, v);
    }
  } catch (err) {
    send({ type: 'error', element: 'pipeline', message: (err as Error).message }, true);
    return;
  }
  let started = false;
  pipeline.play({
    onStarted: () => {
      if (started) return;
      started = true;
      send({ type: 'started' });
    },
    onEos: () => send({ type: 'eos' }, true),
    onError: (e) => send({ type: 'error', element: e.element, message: e.message, debug: e.debug }, true),
  });
});

// The parent went away (closed the source, or died): nothing left to read for.
process.on('disconnect', () => die());

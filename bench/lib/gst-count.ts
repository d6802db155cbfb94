// Counts native GStreamer pipelines created in this process, by wrapping the binding's
// constructor before the library first uses it (the binding never frees a pipeline, so the
// count is what a long-lived process keeps).
import { createRequire } from 'node:module';

let created = 0;
let installed = false;

export function countPipelines(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const native = require('gstreamer-superficial') as { Pipeline: new (d: string) => object };
  const Original = native.Pipeline;
  native.Pipeline = function Pipeline(description: string) {
    created++;
    return new Original(description);
  } as unknown as typeof native.Pipeline;
}

export function pipelinesCreated(): number {
  return created;
}

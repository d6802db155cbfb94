// Memory readings for leak checks. V8 frees the backing stores of dead ArrayBuffers on a
// background sweeper after a GC, so process.memoryUsage().arrayBuffers read right after gc()
// can still count megabytes of garbage (on Node 24, 12.2 MiB right after gc() in a run that
// settled at 8.9; a CI leg failed the RTSP abuse test with +8.3 MiB that way). A few collections
// with a pause between them let the sweeper finish.
export async function settledMemory(gc: () => void): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage();
}

// Memory readings for leak checks. V8 frees the backing stores of dead ArrayBuffers on a
// background sweeper after a GC, so process.memoryUsage().arrayBuffers read right after gc()
// can still count megabytes of garbage (seen on Node 24: +8 MiB that a second collection
// removes). A few collections with a pause between them let the sweeper finish.
export async function settledMemory(gc: () => void): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage();
}

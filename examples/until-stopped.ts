// Shared by the examples: an AbortSignal that fires on Ctrl-C (SIGINT), SIGTERM, or after
// EXAMPLE_SECONDS seconds when that is set (the test suite runs every example that way).
export function untilStopped(): AbortSignal {
  const ctrl = new AbortController();
  const stop = () => ctrl.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const seconds = Number(process.env.EXAMPLE_SECONDS ?? 0);
  if (seconds > 0) setTimeout(stop, seconds * 1000).unref();
  return ctrl.signal;
}

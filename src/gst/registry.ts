// Which GStreamer elements exist and work here. Asked through the gst-inspect/gst-launch
// tools in child processes: asynchronous, no libuv threadpool, and a crashing driver
// (hardware encoders) takes down the probe, not the caller's process.
import { execFile } from 'node:child_process';

const exists = new Map<string, Promise<boolean>>();
const works = new Map<string, Promise<boolean>>();

function run(cmd: string, args: string[], timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err) => resolve(!err));
  });
}

/** True when the element factory is registered (plugin installed and loadable). */
export function hasElement(name: string): Promise<boolean> {
  let p = exists.get(name);
  if (!p) {
    // Not `--exists`: it also requires the plugin's version to parse as major.minor.micro and be
    // at least GStreamer's own, which AWS's kvssink ("1.0") never passes.
    p = run('gst-inspect-1.0', [name], 10_000);
    exists.set(name, p);
  }
  return p;
}

/** True when a short pipeline through `fragment` runs to EOS (e.g. an encoder that finds its device). */
export function pipelineWorks(fragment: string): Promise<boolean> {
  let p = works.get(fragment);
  if (!p) {
    const launch = `videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! videoconvert ! ${fragment} ! fakesink`;
    p = run('gst-launch-1.0', ['-q', ...launch.split(' ')], 15_000);
    works.set(fragment, p);
  }
  return p;
}

// Child process for the SIGKILL test: records frames in real time until it is killed. Each frame
// carries its index (frames.ts indexed()); "frames N" is printed once N frames were put.
import { FileSkyLine } from '../../src/index.js';
import { indexed } from './frames.js';

const [path, container] = process.argv.slice(2) as [string, 'mp4' | 'mkv'];
const sky = new FileSkyLine({ path, container, statsIntervalMs: 0 });
await sky.startStreaming({ fps: 30, width: 320, height: 240 });
let i = 0;
setInterval(() => {
  sky.put(indexed(320, 240, i));
  i++;
  process.stdout.write(`frames ${i}\n`);
}, 1000 / 30);

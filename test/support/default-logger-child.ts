// A SkyLine with no logger given: records three frames, then calls put() once too often.
import { FileSkyLine } from '../../src/index.js';

const sky = new FileSkyLine({ path: process.argv[2]! });
await sky.startStreaming({ fps: 10, width: 64, height: 48 });
for (let i = 0; i < 3; i++) sky.put({ data: Buffer.alloc(64 * 48 * 3, i * 50), width: 64, height: 48 }, { timestamp: 1_700_000_000_000 + i * 100 });
await sky.stopStreaming();
sky.put({ data: Buffer.alloc(64 * 48 * 3), width: 64, height: 48 });
await sky.close();

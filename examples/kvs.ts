// Stream to AWS Kinesis Video Streams with our PutMedia producer.
//   AWS_REGION=eu-west-1 node --import tsx examples/kvs.ts my-stream
// Credentials come from the usual AWS chain (environment, ~/.aws, SSO, roles). KVS_ENDPOINT
// points the control plane elsewhere (a VPC endpoint, or the test suite's KVS emulator).
import { KVSSkyLine, PatternSource } from 'gst-skyline';
import { untilStopped } from './until-stopped.js';

const sky = new KVSSkyLine({
  streamName: process.argv[2] ?? 'gst-skyline-example',
  region: process.env.AWS_REGION ?? 'us-west-2',
  endpoint: process.env.KVS_ENDPOINT,
  createStream: true, // needs kinesisvideo:CreateStream; drop it for an existing stream
  sink: 'putmedia',
  fragmentSeconds: 2,
});
sky.on('error', (err) => console.error(err.message));
let persisted = 0;
sky.on('ack', (ack) => {
  if (ack.EventType === 'PERSISTED') persisted++;
});

await sky.startStreaming({ fps: 25, width: 640, height: 360 });
for await (const frame of new PatternSource({ fps: 25, width: 640, height: 360, signal: untilStopped() })) {
  // The capture time becomes the fragment's ABSOLUTE timecode in KVS.
  sky.put(frame, { timestamp: frame.timestamp });
}
await sky.stopStreaming(); // waits until what was put is PERSISTED
console.log(`${persisted} fragments persisted, ${sky.stats().framesEncoded} frames`);
await sky.close();

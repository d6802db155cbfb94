// The KVS emulator (test/support/kvs-emulator.ts) in a process of its own, so its CPU (SigV4
// checks, MKV parsing, acks) is not counted as the producer's and can be read from /proc.
// usage: node --import tsx bench/peers/kvs-emulator.ts
// Prints "ready <endpoint> <region>". Commands on stdin, one answer line each:
//   add NAME     creates the stream                         -> "ok"
//   count NAME   frames and fragments stored for it, JSON   -> {"frames":…,"fragments":…,"keyframes":…,"connections":…}
//   drop NAME    forgets what was stored for it             -> "ok"
import { createInterface } from 'node:readline';
import { startEmulator, TEST_KEY } from '../../test/support/kvs/harness.js';

void TEST_KEY;
const emu = await startEmulator({ streams: [] });
console.log(`ready ${emu.endpoint} ${emu.region}`);

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, name = ''] = line.trim().split(/\s+/);
  if (cmd === 'add') {
    emu.addStream(name, 1);
    console.log('ok');
  } else if (cmd === 'count') {
    const frags = emu.fragments(name);
    const frames = frags.reduce((n, f) => n + f.frames.length, 0);
    const keyframes = frags.reduce((n, f) => n + f.frames.filter((fr) => fr.keyframe).length, 0);
    const connections = emu.connections.filter((c) => c.streamName === name).length;
    console.log(JSON.stringify({ frames, fragments: frags.length, keyframes, connections }));
  } else if (cmd === 'drop') {
    // What the stream stored is only needed for its count: free it (the emulator keeps every byte).
    (emu as unknown as { stored: Map<string, unknown> }).stored.delete(name);
    for (const c of emu.connections) if (c.streamName === name) c.wire.length = 0;
    console.log('ok');
  } else if (cmd === 'quit') {
    void emu.close().then(() => process.exit(0));
  } else {
    console.log(`error unknown command ${JSON.stringify(line)}`);
  }
});
process.stdin.on('end', () => void emu.close().then(() => process.exit(0)));

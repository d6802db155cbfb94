// The figures, by name. Each runs in a process of its own (bench/child.ts).
import { capacity, growth } from './capacity.js';
import destinations from './destinations.js';
import encoders from './encoders.js';
import fanout from './fanout.js';
import hls from './hls.js';
import ingest from './ingest.js';
import latency from './latency.js';
import manyStreams from './many-streams.js';
import memory from './memory.js';
import putCost from './put-cost.js';
import relay from './relay.js';
import throughput from './throughput.js';
import web from './web.js';

export const FIGURES = {
  put: putCost,
  throughput,
  memory,
  many: manyStreams,
  latency,
  fanout,
  web,
  ingest,
  capacity,
  growth,
  encoders,
  destinations,
  relay,
  hls,
} as const;

export type FigureName = keyof typeof FIGURES;

// Runs one figure in a process of its own (clean RSS, CPU counters and GStreamer state)
// and writes its result as JSON: node --import tsx bench/child.ts <figure> [out.json]
import { writeFileSync } from 'node:fs';
import { FIGURES, type FigureName } from './figures/index.js';

const name = process.argv[2] as FigureName;
const out = process.argv[3];
const figure = FIGURES[name];
if (!figure) {
  console.error(`unknown figure ${JSON.stringify(name)}; one of ${Object.keys(FIGURES).join(', ')}`);
  process.exit(2);
}
try {
  const result = await figure();
  const json = JSON.stringify(result, null, 2);
  if (out) writeFileSync(out, json);
  else console.log(json);
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(1);
}

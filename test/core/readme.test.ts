// Every TypeScript example in the README that imports gst-skyline compiles under strict tsc
// against the sources, with no cast: events are typed per class (issue 9, defect 15).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');

/** What the examples leave to the reader: a camera, a detector, frames. */
const PRELUDE = `
import type { Frame } from 'gst-skyline';
declare function camera(): AsyncIterable<Frame>;
declare function detectAndDraw(frame: Frame): void;
declare const frames: Frame[];
declare const frame: Frame;
declare const captureTimeMs: number;
`;

test('the README TypeScript examples compile under strict tsc', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes("from 'gst-skyline'"));
  assert.ok(blocks.length >= 3, `${blocks.length} examples found`);
  const dir = mkdtempSync(join(tmpdir(), 'skyline-readme-'));
  try {
    const files = blocks.map((b, i) => {
      const f = join(dir, `example-${i + 1}.mts`);
      writeFileSync(f, `${PRELUDE}\n${b}\nexport {};\n`);
      return f;
    });
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
        paths: { 'gst-skyline': [join(root, 'src/index.ts')] },
      },
      files,
    }));
    const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n${files.map((f) => `--- ${f}\n${readFileSync(f, 'utf8')}`).join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

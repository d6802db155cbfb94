// .env.example lists exactly the variables the code reads: every process.env name in src/ and
// examples/ has a line, and every line names a variable some code reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name))
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));
}

// Set by the machine or by tools, not settings a user puts in .env.
const NOT_SETTINGS = new Set(['PATH', 'CI', 'XDG_CACHE_HOME', 'HOME']);

test('.env.example has a line for every variable src/ and examples/ read, and no others', () => {
  const listed = new Set([...readFileSync(join(root, '.env.example'), 'utf8').matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
  const read = new Set<string>();
  for (const text of [...sources('src'), ...sources('examples')]) {
    for (const m of text.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]+)|\[['"]([A-Z][A-Z0-9_]+)['"]\])/g)) read.add((m[1] ?? m[2])!);
  }
  const missing = [...read].filter((v) => !listed.has(v) && !NOT_SETTINGS.has(v));
  assert.deepEqual(missing, [], 'read by the code but not in .env.example');

  const everything = ['src', 'examples', 'test', 'bench', 'scripts'].flatMap(sources).join('\n');
  const unread = [...listed].filter((v) => !new RegExp(`\\b${v}\\b`).test(everything));
  assert.deepEqual(unread, [], 'in .env.example but read by no code');
});

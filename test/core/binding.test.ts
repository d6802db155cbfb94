// When the native binding cannot load, the error says why and what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindingError } from '../../src/gst/binding.js';

function err(message: string, code?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), code ? { code } : {});
}

test('an addon that was never built: allowScripts, onlyBuiltDependencies, the build packages, npm rebuild', () => {
  const e = bindingError(err("Cannot find module '/app/node_modules/gstreamer-superficial/build/Release/gstreamer-superficial'", 'MODULE_NOT_FOUND'));
  assert.equal(e.name, 'BindingError');
  for (const part of ['"allowScripts": { "gstreamer-superficial": true }', 'pnpm.onlyBuiltDependencies', 'libgstreamer1.0-dev', 'npm rebuild gstreamer-superficial', 'Cannot find module']) {
    assert.ok(e.message.includes(part), `${part} in: ${e.message}`);
  }
});

test('an addon built for another Node version, or missing GStreamer libraries, each get their own remedy', () => {
  const abi = bindingError(err('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115. This version of Node.js requires NODE_MODULE_VERSION 137.'));
  assert.match(abi.message, new RegExp(`built for another Node.js version than this one \\(${process.version.replace(/\./g, '\\.')}\\): run npm rebuild gstreamer-superficial`));
  const libs = bindingError(err('libgstreamer-1.0.so.0: cannot open shared object file: No such file or directory'));
  assert.match(libs.message, /GStreamer libraries are missing: sudo apt-get install gstreamer1.0-plugins-base/);
});

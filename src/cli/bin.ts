#!/usr/bin/env node
// The package's `gst-skyline` command.
import { main } from './main.js';

const code = await main(process.argv.slice(2));
// Pipelines, servers and sockets are closed by now: exit without waiting on stray handles
// (a GStreamer bus watch can hold the event loop open).
process.exit(code);

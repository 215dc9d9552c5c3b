#!/usr/bin/env -S node --max-semi-space-size=8
// A young generation of 8 MiB semi-spaces, not 16: a host flooding its output leaves far less garbage
// standing (peak RSS about 115 MB instead of 140-155 MB for 200 MB of output), and a 10,000-host plan
// is no slower (bench/plan, README).
// The compiled CLI; `npm ci` builds it through the `prepare` script.
import { runCommandLine } from '../dist/engine/cli.js';

process.exitCode = await runCommandLine(process.argv.slice(2));

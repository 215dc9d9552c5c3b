#!/usr/bin/env node
// The compiled CLI; `npm ci` builds it through the `prepare` script.
import { runCommandLine } from '../dist/engine/cli.js';

process.exitCode = await runCommandLine(process.argv.slice(2));

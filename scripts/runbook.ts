// The command line from source (`node --import tsx scripts/runbook.ts ...`): what tests spawn, so
// that they never run a stale build.
import { runCommandLine } from '../engine/cli.js';

process.exitCode = await runCommandLine(process.argv.slice(2));

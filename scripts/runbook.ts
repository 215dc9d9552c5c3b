// The command line from source (`node --import tsx scripts/runbook.ts ...`): what tests spawn, so
// that they never run a stale build.
import { main } from '../engine/cli.js';

process.exitCode = await main(process.argv.slice(2));

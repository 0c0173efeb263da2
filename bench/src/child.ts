/**
 * One measurement in its own process: `node child.js '<ChildParams json>'`. Runs the warm-up, then the measured
 * run, prints `RESULT <Sample json>` and exits. Each contender gets a fresh process so descriptor limits, GC state
 * and JIT state of one never affect another.
 */

import { formatResult, type ChildParams, type Sample } from './common.js';

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: child.js <params json>');
  const params = JSON.parse(raw) as ChildParams;
  let mod: { p1(p: ChildParams): Promise<Sample>; p2(p: ChildParams): Promise<Sample> };
  switch (params.contender) {
    case 'fdloop':
      mod = await import('./contenders/fdloop.js');
      break;
    case 'npm-epoll':
      mod = await import('./contenders/npm-epoll.js');
      break;
    case 'node-net':
      mod = await import('./contenders/node-net.js');
      break;
    default:
      throw new Error(`unknown contender ${String(params.contender)}`);
  }
  const sample = params.bench === 'p1' ? await mod.p1(params) : await mod.p2(params);
  process.stdout.write(formatResult(sample) + '\n');
}

main().then(
  // Exit explicitly: some contenders (npm epoll) keep handles open that have nothing left to do.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

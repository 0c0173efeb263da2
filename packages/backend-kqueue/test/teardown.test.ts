// Teardown (emulated kqueue on Linux): a worker thread terminated while its runtime holds open, busy sources must
// release everything the kqueue backend took — the kqueue, the descriptors of its path watch, its signal
// subscription (the signal's disposition goes back to what it was) — and leave this process healthy.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createRuntime } from '@fdloop/core';
import { waitFor as waitUntil } from '@fdloop/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { emulatedKqueue } from './emulated.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** The emulation notices closed kqueues when the next one is created: make one, close it. */
function sweepEmulation(): void {
  emulatedKqueue().createPoller({ batchSize: 1, sink: { onEvents() {} } }).close();
}

describe('teardown (emulated kqueue)', () => {
  it('terminating a worker with open sources closes their descriptors and gives the signal back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fdloop-kqueue-teardown-'));
    dirs.push(dir);
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${i}`), 'x');
    const heard: string[] = [];
    const listener = (name: string): void => {
      heard.push(name);
    };
    process.on('SIGUSR2', listener);
    try {
      // The emulation keeps the eventfd of a signal knote for reuse (never closed; see its README): make it exist
      // before counting.
      const primer = createRuntime({ backend: emulatedKqueue() });
      primer.signal('SIGUSR2').close();
      await primer.close();
      sweepEmulation();
      const before = openFds();
      for (let round = 0; round < 2; round++) {
        const worker = new Worker(new URL('./fixtures/worker-sources.mjs', import.meta.url), { workerData: { dir } });
        const ready = await new Promise<{ watchCount: number }>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
        expect(ready.watchCount).toBe(1);
        // 1 kqueue + 21 path-watch descriptors (the directory and its 20 files), at least.
        expect(openFds()).toBeGreaterThanOrEqual(before + 22);
        expect(await worker.terminate()).toBe(1);
      }
      await waitUntil(() => {
        sweepEmulation();
        return openFds() === before;
      }, 'the descriptors to be released');
      // SIGUSR2 reaches Node's listener again: the subscriptions' SIG_IGN is gone.
      process.kill(process.pid, 'SIGUSR2');
      await waitUntil(() => heard.length === 1, "Node's SIGUSR2 listener");
      // And the backend still works here.
      const rt = createRuntime({ backend: emulatedKqueue() });
      const fired: number[] = [];
      await rt.run(async () => {
        rt.timer({ delay: 1 }, (ev) => fired.push(ev.expirations));
      });
      await rt.close();
      expect(fired).toEqual([1]);
    } finally {
      process.off('SIGUSR2', listener);
    }
  });
});

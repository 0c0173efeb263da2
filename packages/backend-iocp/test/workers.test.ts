// One runtime per thread: pollers live in worker threads, and a worker terminated with AFD polls, an overlapped
// read, a periodic timer, a directory watch and a process-exit wait still pending is torn down by the environment cleanup hook (cancel, reclaim, stop the thread)
// without crashing the process or calling into the dead worker.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Interest } from '@fdloop/core';
import { sys } from '../src/index.js';
import { recordingPoller, waitFor } from './helpers.js';

const addon = ['prebuilds/win32-x64', 'build/Release', 'build-mingw/Release']
  .map((dir) => fileURLToPath(new URL(`../${dir}/fdloop_iocp.node`, import.meta.url)))
  .find((file) => existsSync(file)) as string;
const script = new URL('./fixtures/worker.mjs', import.meta.url);

function startWorker(): { worker: Worker; ready: Promise<number> } {
  const worker = new Worker(script, { workerData: { addon, dir: tmpdir() } });
  const ready = new Promise<number>((resolve, reject) => {
    worker.once('message', (msg: { ready: number }) => resolve(msg.ready));
    worker.once('error', reject);
  });
  return { worker, ready };
}

describe('worker threads', () => {
  it('a worker gets readiness from its own poller and exits cleanly after closing it', async () => {
    const { worker, ready } = startWorker();
    expect((await ready) & 1).toBe(1);
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    worker.postMessage('exit');
    expect(await exited).toBe(0);
  });

  it('terminating a worker with polls and a read pending tears its poller down; the main thread carries on', async () => {
    for (let round = 0; round < 3; round++) {
      const { worker, ready } = startWorker();
      await ready;
      await worker.terminate();
    }
    // The main thread's own poller still works.
    const { poller, rec } = recordingPoller();
    const [a, b] = sys.socketPair();
    try {
      poller.register(a, 7, Interest.READABLE);
      sys.send(b, Buffer.from('x'));
      await waitFor(() => rec.pairs.length > 0, 'readiness on the main thread');
      expect(rec.pairs[0]?.[0]).toBe(7);
    } finally {
      poller.close();
      sys.closeSocket(a);
      sys.closeSocket(b);
    }
  });
});

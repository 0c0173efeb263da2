// A port used from a worker thread: the worker has its own runtime and opens, reads and writes the port on its
// own thread (no thread pool anywhere). When a worker is terminated with its port open, the addon's per-thread
// cleanup closes the descriptor, so the exclusive lock is released and the port can be opened again.
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { Worker, threadId } from 'node:worker_threads';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { ErrnoError, type Runtime } from '@fdloop/core';
import { lines, open } from '../src/index.js';
import { disposeAllPairs, ptyPeer, runtime, until } from './helpers.js';

const fixture = new URL('./fixtures/serial-worker.mjs', import.meta.url);
const workers: Worker[] = [];
let rt: Runtime | undefined;

beforeAll(() => {
  for (const pkg of ['../../core/dist/index.js', '../../backend-epoll/dist/index.js', '../dist/index.js']) {
    if (!existsSync(new URL(pkg, import.meta.url))) {
      throw new Error(`the worker fixture loads the built packages: ${pkg} is missing; run the build first`);
    }
  }
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
  await rt?.close();
  rt = undefined;
  await disposeAllPairs();
});

function start(workerData: Record<string, unknown>): { worker: Worker; messages: Array<Record<string, unknown>> } {
  const worker = new Worker(fixture, { workerData });
  workers.push(worker);
  const messages: Array<Record<string, unknown>> = [];
  worker.on('message', (m: Record<string, unknown>) => messages.push(m));
  return { worker, messages };
}

it('a worker thread opens the port and echoes on its own runtime while the main thread talks to the other end (the pty master)', async () => {
  const peer = ptyPeer();
  const { worker, messages } = start({ path: peer.path });
  const [ready] = (await once(worker, 'message')) as [Record<string, unknown>];
  expect(ready).toMatchObject({ type: 'ready' });
  expect(ready.threadId).not.toBe(threadId);
  expect(ready.thread).toMatch(/^worker-/);

  const replies = lines(peer.chunks());
  await peer.write('ping\nhello from main\n');
  const got: string[] = [];
  for await (const line of replies) {
    got.push(line);
    if (got.length === 2) break;
  }
  expect(got).toEqual(['PING', 'HELLO FROM MAIN']);
  // The worker's messages travel separately from the serial data: wait for both.
  await until('the worker reports both lines', () => messages.filter((m) => m.type === 'line').length === 2);
  expect(messages.filter((m) => m.type === 'line').map((m) => [m.line, m.threadId])).toEqual([
    ['ping', ready.threadId],
    ['hello from main', ready.threadId],
  ]);
  worker.postMessage({ type: 'close' });
  await until('worker closed', () => messages.some((m) => m.type === 'closed'));
});

it('terminating a worker with its port open releases the descriptor and its exclusive lock', async () => {
  const peer = ptyPeer();
  const { worker } = start({ path: peer.path });
  await once(worker, 'message');
  rt = runtime();
  // Held exclusively by the worker.
  expect(() => open(peer.path, { runtime: rt as Runtime })).toThrow(ErrnoError);
  await worker.terminate();
  const again = open(peer.path, { runtime: rt });
  expect(again.isOpen).toBe(true);
  await again.close();
});

// One runtime per thread: pollers in worker_threads deliver on the worker's own loop, and a worker that ends or is
// terminated stops and joins its poll threads through the environment's cleanup hook, whatever it was doing. The
// fixtures load the built package (dist/), as a user's worker would.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Interest, Ready, createRuntime, type Runtime } from '@fdloop/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { poll } from '../src/index.js';
import { openFdCount, sys, threadsNamed, waitFor } from './helpers.js';

const fixture = new URL('./fixtures/worker.mjs', import.meta.url);
const runtimes: Runtime[] = [];
const workers: Worker[] = [];

beforeAll(() => {
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
    throw new Error('the worker fixture loads the built package: dist/index.js is missing; run the build first');
  }
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
  for (const rt of runtimes.splice(0)) await rt.close();
});

interface Message {
  type: string;
  [key: string]: unknown;
}

let seq = 0;
function startWorker(workerData: Record<string, unknown>) {
  seq += 1;
  const threadName = `fdl-w${seq}`;
  const worker = new Worker(fixture, { workerData: { ...workerData, threadName } });
  workers.push(worker);
  const messages: Message[] = [];
  const waiters: Array<{ type: string; resolve(m: Message): void }> = [];
  let failure: Error | undefined;
  worker.on('message', (m: Message) => {
    messages.push(m);
    for (const w of waiters.filter((x) => x.type === m.type)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  worker.on('error', (e) => {
    failure = e;
  });
  // Listen for 'exit' from the start: a worker that posts and ends at once emits both in the same tick.
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return {
    worker,
    threadName,
    exited,
    next(type: string, timeoutMs = 20_000): Promise<Message> {
      const seen = messages.find((m) => m.type === type);
      if (seen) return Promise.resolve(seen);
      if (failure) return Promise.reject(failure);
      return new Promise<Message>((resolve, reject) => {
        const timer = setTimeout(() => reject(failure ?? new Error(`timed out waiting for '${type}' from the worker`)), timeoutMs);
        waiters.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
  };
}

/** The main thread's own runtime still works: a pipe round trip through it. */
async function mainRuntimeWorks(): Promise<void> {
  const rt = createRuntime({ backend: poll() });
  runtimes.push(rt);
  const [r, w] = sys.pipe();
  try {
    rt.setTimeout(() => sys.write(w, Buffer.from('main alive')), 1);
    const ev = await rt.readable(r, { signal: AbortSignal.timeout(5000) });
    expect(ev.readable).toBe(true);
  } finally {
    sys.close(r);
    sys.close(w);
  }
}

describe('worker_threads', () => {
  it('a poller works in a worker, on the worker\'s own loop, and its thread is joined when closed', async () => {
    const started = startWorker({ job: 'event' });
    const message = await started.next('done');
    expect(message).toMatchObject({ count: 1, pairs: [[77, Ready.READABLE]] });
    expect(message['thread']).toMatch(/^worker-\d+$/);
    expect(await started.exited).toBe(0);
    expect(threadsNamed(started.threadName)).toBe(0);
  });

  it('a worker that ends with an open poller: the environment teardown stops its thread', async () => {
    const fdsBefore = openFdCount();
    const started = startWorker({ job: 'finish' });
    const { fds } = (await started.next('done')) as unknown as { fds: number[] };
    expect(await started.exited).toBe(0);
    await waitFor(() => threadsNamed(started.threadName) === 0, 'the poll thread to end');
    for (const fd of fds) sys.close(fd);
    // The wake-up pipe is closed too.
    await waitFor(() => openFdCount() <= fdsBefore, 'the descriptors to be closed');
  });

  it('4 workers, each with its own runtime on poll, ping-pong at the same time', async () => {
    const rounds = 500;
    const started = Array.from({ length: 4 }, () => startWorker({ job: 'ping-pong', rounds }));
    const results = await Promise.all(started.map((w) => w.next('done', 60_000)));
    for (const result of results) expect(result).toMatchObject({ pings: rounds, pongs: rounds });
    expect(new Set(results.map((r) => r['thread'])).size).toBe(4);
    expect(await Promise.all(started.map((w) => w.exited))).toEqual([0, 0, 0, 0]);
    for (const w of started) expect(threadsNamed(w.threadName)).toBe(0);
  });
});

/** A 'hold' worker; `closeRecorded()` closes every descriptor it opened (call it once the worker has exited). */
function startHolder(watches: number) {
  const shared = new SharedArrayBuffer(4 * (watches + 2));
  const started = startWorker({ job: 'hold', watches, slots: shared });
  const slots = new Int32Array(shared);
  return {
    ...started,
    closeRecorded(): number {
      const count = Atomics.load(slots, 0);
      for (let i = 1; i <= count; i++) sys.close(Atomics.load(slots, i));
      return count;
    },
  };
}

describe('terminating workers that hold live registrations', () => {
  it('terminate() while 500 registrations are busy: the process survives, the poll thread is joined', async () => {
    await mainRuntimeWorks();
    const fdsBefore = openFdCount();
    for (let round = 0; round < 3; round++) {
      const holder = startHolder(500);
      const { watchers } = (await holder.next('fds')) as unknown as { watchers: number };
      expect(watchers).toBe(500);
      await holder.next('busy');
      expect(threadsNamed(holder.threadName)).toBe(1);
      expect(await holder.worker.terminate()).toBe(1);
      await holder.exited;
      // terminate() resolves once the worker's environment is gone, and with it its poll thread.
      expect(threadsNamed(holder.threadName)).toBe(0);
      // The descriptors belong to the process, not the worker: close them as their owner would have.
      expect(holder.closeRecorded()).toBe(500);
    }
    await waitFor(() => openFdCount() <= fdsBefore, 'the descriptors (wake-up pipes included) to be closed');
    await mainRuntimeWorks();
  });

  it('two busy workers terminated at the same time, while the main runtime is busy too', async () => {
    const rt = createRuntime({ backend: poll() });
    runtimes.push(rt);
    const busy = sys.eventfd(1);
    let mainEvents = 0;
    const busyWatcher = rt.watch(busy, Interest.READABLE, () => {
      mainEvents += 1;
    });
    const holders = [startHolder(500), startHolder(500)];
    await Promise.all(holders.map((h) => h.next('busy')));
    const before = mainEvents;
    await Promise.all(holders.map((h) => h.worker.terminate()));
    for (const h of holders) {
      h.closeRecorded();
      expect(threadsNamed(h.threadName)).toBe(0);
    }
    await waitFor(() => mainEvents > before + 3, 'the main runtime to keep delivering');
    busyWatcher.close();
    sys.close(busy);
    await mainRuntimeWorks();
  });

  it('workers terminated during start-up (loading, creating the runtime, registering) do not hurt the process', async () => {
    for (const delayMs of [0, 5, 20, 40, 80]) {
      const holder = startHolder(200);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await holder.worker.terminate();
      await holder.exited;
      holder.closeRecorded();
      expect(threadsNamed(holder.threadName)).toBe(0);
    }
    await mainRuntimeWorks();
  });

  it('terminate() landing while the worker is inside native poller calls does not abort the process (child process)', () => {
    const script = fileURLToPath(new URL('./fixtures/terminate-stress.mjs', import.meta.url));
    const rounds = 40;
    const result = spawnSync(process.execPath, [script, String(rounds)], { encoding: 'utf8', timeout: 90_000 });
    const fatal = /FATAL ERROR.*|AddressSanitizer.*|ThreadSanitizer.*/.exec(result.stderr)?.[0];
    expect(fatal, result.stderr.slice(0, 2000)).toBeUndefined();
    expect(result.signal).toBeNull();
    expect(result.status, result.stderr.slice(0, 2000)).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({ survived: rounds, mainRuntime: true, threadsLeft: 0 });
  }, 120_000);
});

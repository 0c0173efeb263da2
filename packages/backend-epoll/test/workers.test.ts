// One runtime per thread: worker_threads, each with its own runtime and native poller on its own libuv loop
// (the fixture loads the built packages, dist/), working at the same time as the main thread's runtime; and
// workers terminated while they hold many live watchers with events flowing, which must not hurt the process.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Interest, createRuntime, type Runtime } from '@fdloop/core';
import { epoll, sys } from '../src/index.js';

const fixture = new URL('./fixtures/runtime-worker.mjs', import.meta.url);
const openFds = new Set<number>();
const runtimes: Runtime[] = [];
const workers: Worker[] = [];

function pipe(): [number, number] {
  const p = sys.pipe();
  for (const fd of p) openFds.add(fd);
  return p;
}

beforeAll(() => {
  for (const pkg of ['../../core/dist/index.js', '../dist/index.js']) {
    if (!existsSync(new URL(pkg, import.meta.url))) {
      throw new Error(`the worker fixture loads the built packages: ${pkg} is missing; run the build first`);
    }
  }
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
  for (const rt of runtimes.splice(0)) await rt.close().catch(() => {});
  for (const fd of openFds) {
    try {
      sys.close(fd);
    } catch {
      // Closed by the test.
    }
  }
  openFds.clear();
});

interface Message {
  type: string;
  [key: string]: unknown;
}

function startWorker(workerData: Record<string, unknown>): { worker: Worker; messages: Message[]; next(type: string, timeoutMs?: number): Promise<Message>; exited: Promise<number> } {
  const worker = new Worker(fixture, { workerData });
  workers.push(worker);
  const messages: Message[] = [];
  const waiters: Array<{ type: string; resolve(m: Message): void }> = [];
  let failure: Error | undefined;
  const rejecters = new Set<(e: Error) => void>();
  worker.on('message', (m: Message) => {
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.type === m.type) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  worker.on('error', (e) => {
    failure = e;
    for (const reject of rejecters) reject(e);
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return {
    worker,
    messages,
    exited,
    next(type, timeoutMs = 20_000) {
      const seen = messages.find((m) => m.type === type);
      if (seen) return Promise.resolve(seen);
      if (failure) return Promise.reject(failure);
      return new Promise<Message>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for '${type}' from the worker`)), timeoutMs);
        rejecters.add(reject);
        waiters.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            rejecters.delete(reject);
            resolve(m);
          },
        });
      });
    },
  };
}

function fdTargets(): string[] {
  const targets: string[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      targets.push(readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // The directory's own descriptor, gone by now.
    }
  }
  return targets;
}
const countEpollFds = (): number => fdTargets().filter((t) => t === 'anon_inode:[eventpoll]').length;

/** Wait until the process's descriptor count is back to `baseline` (a worker's loop closes after 'exit'). */
async function expectFdsBackTo(baseline: number, epollBaseline: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((fdTargets().length !== baseline || countEpollFds() !== epollBaseline) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(countEpollFds()).toBe(epollBaseline);
  expect(fdTargets().length).toBe(baseline);
}

/** The main thread's own runtime still works: a pipe round trip through it. */
async function mainRuntimeWorks(rt: Runtime): Promise<void> {
  const [r, w] = pipe();
  const got: string[] = [];
  await rt.run(async () => {
    rt.setTimeout(() => sys.write(w, Buffer.from('main alive')), 1);
    await rt.readable(r, { signal: AbortSignal.timeout(5000) });
    const buf = Buffer.alloc(32);
    got.push(buf.subarray(0, sys.read(r, buf)).toString());
  });
  expect(got).toEqual(['main alive']);
}

describe('worker_threads, one runtime each', () => {
  it('4 workers ping-pong through their own runtimes at the same time and report back', async () => {
    const fdsBefore = fdTargets().length;
    const epollBefore = countEpollFds();
    const rounds = 2000;
    const started = Array.from({ length: 4 }, () => startWorker({ job: 'ping-pong', rounds }));
    const results = await Promise.all(started.map((w) => w.next('done', 60_000)));
    for (const result of results) {
      expect(result).toMatchObject({ pings: rounds, pongs: rounds });
      expect(result['thread']).toMatch(/^worker-\d+$/);
    }
    expect(new Set(results.map((r) => r['thread'])).size).toBe(4);
    expect(await Promise.all(started.map((w) => w.exited))).toEqual([0, 0, 0, 0]);
    await expectFdsBackTo(fdsBefore, epollBefore);
  });

  it('workers echo what the main thread\'s runtime sends them, all runtimes working at once', async () => {
    const rt = createRuntime({ backend: epoll() });
    runtimes.push(rt);
    const rounds = 200;
    const links = Array.from({ length: 4 }, () => {
      const [toWorkerR, toWorkerW] = pipe();
      const [fromWorkerR, fromWorkerW] = pipe();
      const started = startWorker({ job: 'echo', inFd: toWorkerR, outFd: fromWorkerW, rounds });
      return { toWorkerW, fromWorkerR, started, received: 0 };
    });
    const buf = Buffer.alloc(256);
    await rt.run(() => {
      for (const link of links) {
        const watcher = rt.watch(link.fromWorkerR, Interest.READABLE, () => {
          for (;;) {
            const n = sys.read(link.fromWorkerR, buf);
            if (n <= 0) break;
            link.received += n;
          }
          if (link.received >= rounds) watcher.close();
          else sys.write(link.toWorkerW, Buffer.from('x'));
        });
        sys.write(link.toWorkerW, Buffer.from('x'));
      }
    });
    for (const link of links) {
      expect(link.received).toBe(rounds);
      expect(await link.started.next('done')).toMatchObject({ echoed: rounds });
      expect(await link.started.exited).toBe(0);
    }
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

describe('terminating workers that hold live watchers', () => {
  it('terminate() while 1,000 watchers are busy: the process survives, its runtime works, the poller is released', async () => {
    const rt = createRuntime({ backend: epoll() });
    runtimes.push(rt);
    await mainRuntimeWorks(rt);
    const fdsBefore = fdTargets().length;
    const epollBefore = countEpollFds();

    const holder = startHolder(1000);
    const { watchers } = (await holder.next('fds')) as unknown as { watchers: number };
    expect(watchers).toBe(1000);
    await holder.next('busy');
    // Two more epoll instances now: the worker's own libuv loop, and its runtime's poller.
    expect(countEpollFds()).toBeGreaterThanOrEqual(epollBefore + 2);
    await holder.worker.terminate();
    await holder.exited;
    // The worker's descriptors belong to the process: close them here. Its epoll descriptor belongs to its
    // poller, which the environment's teardown must have closed by itself.
    expect(holder.closeRecorded()).toBe(980 + 20);
    await expectFdsBackTo(fdsBefore, epollBefore);
    await mainRuntimeWorks(rt);
  });

  it('5 busy workers terminated one after the other leave nothing behind, while the main runtime is busy too', async () => {
    const rt = createRuntime({ backend: epoll() });
    runtimes.push(rt);
    const fdsBefore = fdTargets().length;
    const epollBefore = countEpollFds();
    // A level-triggered readable eventfd keeps the main thread's poller reporting all along.
    const busy = sys.eventfd(1);
    openFds.add(busy);
    let mainEvents = 0;
    const busyWatcher = rt.watch(busy, Interest.READABLE, () => {
      mainEvents += 1;
    });
    for (let i = 0; i < 5; i++) {
      const holder = startHolder(1000);
      await holder.next('busy');
      const before = mainEvents;
      await holder.worker.terminate();
      await holder.exited;
      holder.closeRecorded();
      // The main runtime kept (or keeps) delivering.
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(mainEvents).toBeGreaterThan(before);
    }
    busyWatcher.close();
    sys.close(busy);
    openFds.delete(busy);
    await expectFdsBackTo(fdsBefore, epollBefore);
    await mainRuntimeWorks(rt);
  });

  it('two busy workers terminated at the same time', async () => {
    const rt = createRuntime({ backend: epoll() });
    runtimes.push(rt);
    const fdsBefore = fdTargets().length;
    const epollBefore = countEpollFds();
    const holders = [startHolder(1000), startHolder(1000)];
    await Promise.all(holders.map((h) => h.next('busy')));
    await Promise.all(holders.map((h) => h.worker.terminate()));
    for (const h of holders) h.closeRecorded();
    await expectFdsBackTo(fdsBefore, epollBefore);
    await mainRuntimeWorks(rt);
  });

  it('terminate() landing while the worker is inside a native poller call does not abort the process (child process)', () => {
    // Worker.terminate() marks the worker's environment as stopping before V8 stops its JavaScript, so the worker
    // can still enter a native method; every N-API call that needs JS then fails, and an addon that reacts by
    // throwing a JS exception hits node-addon-api's fatal error path, which aborts the WHOLE process. Run in a
    // child process, so that such an abort is reported as a failure instead of killing the test runner.
    const script = fileURLToPath(new URL('./fixtures/runtime-terminate.mjs', import.meta.url));
    const rounds = 50;
    const result = spawnSync(process.execPath, [script, String(rounds)], { encoding: 'utf8', timeout: 90_000 });
    const fatal = /FATAL ERROR.*|AddressSanitizer.*/.exec(result.stderr)?.[0];
    expect(fatal, result.stderr.slice(0, 2000)).toBeUndefined();
    expect(result.signal).toBeNull();
    expect(result.status, result.stderr.slice(0, 2000)).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({ survived: rounds, mainRuntime: true });
  }, 120_000);

  it('workers terminated during start-up (while loading, creating the runtime, registering) do not hurt the process', async () => {
    const rt = createRuntime({ backend: epoll() });
    runtimes.push(rt);
    const epollBefore = countEpollFds();
    for (const delayMs of [0, 5, 20, 40, 80]) {
      const holder = startHolder(200);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await holder.worker.terminate();
      await holder.exited;
      holder.closeRecorded();
    }
    // Whatever moment it was stopped at, each worker's poller (if it had one) was released.
    const deadline = Date.now() + 5000;
    while (countEpollFds() !== epollBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(countEpollFds()).toBe(epollBefore);
    await mainRuntimeWorks(rt);
  });
});

// Many watchers at once on the epoll backend: 10,000 eventfds (the process may open 20,000 descriptors), all
// readable at the same time. Every callback must run exactly once per round, nothing may be lost or duplicated
// across the many batches that takes, and every descriptor and registration must be released afterwards.
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Interest, createRuntime, type Runtime, type Watcher } from '@fdloop/core';
import { epoll, sys } from '../src/index.js';

const N = 10_000;
const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

let fds: number[] = [];
let rt: Runtime | undefined;

afterEach(async () => {
  await rt?.close().catch(() => {});
  rt = undefined;
  for (const fd of fds) {
    try {
      sys.close(fd);
    } catch {
      // Closed by the test.
    }
  }
  fds = [];
});

const openDescriptors = (): number => readdirSync('/proc/self/fd').length;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Let several loop turns pass, so that a duplicate delivery would have happened. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  await sleep(50);
}

/** `count` eventfds, initially readable (counter 1) if `readable`. Index by descriptor with `indexOf`. */
function makeEventfds(count: number, readable: boolean): { list: number[]; indexOf: Int32Array } {
  const list: number[] = [];
  for (let i = 0; i < count; i++) {
    const fd = sys.eventfd(readable ? 1 : 0);
    fds.push(fd);
    list.push(fd);
  }
  const indexOf = new Int32Array(Math.max(...list) + 1).fill(-1);
  list.forEach((fd, i) => (indexOf[fd] = i));
  return { list, indexOf };
}

function expectAll(counts: Uint32Array, value: number): void {
  let wrong = 0;
  let example = -1;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] !== value) {
      wrong += 1;
      if (example < 0) example = i;
    }
  }
  expect(wrong, `watcher #${example} was called ${counts[example]} times instead of ${value}`).toBe(0);
}

describe(`${N} watchers at once`, () => {
  it('ONESHOT: every callback exactly once per round, re-armed by modify() for a second round; then all released', async () => {
    const descriptorsBefore = openDescriptors();
    rt = createRuntime({ backend: epoll() });
    const { list, indexOf } = makeEventfds(N, true);
    const counts = new Uint32Array(N);
    let total = 0;
    let wrongFd = 0;
    const onEvent = (ev: { fd: number; readable: boolean }) => {
      const i = indexOf[ev.fd] ?? -1;
      if (i < 0 || !ev.readable) wrongFd += 1;
      else counts[i] = (counts[i] as number) + 1;
      total += 1;
    };
    const watchers: Watcher[] = list.map((fd) => (rt as Runtime).watch(fd, Interest.READABLE | Interest.ONESHOT, onEvent));
    expect(rt.watcherCount).toBe(N);

    await waitUntil(() => total >= N, `${N} one-shot events`);
    await settle();
    expect(wrongFd).toBe(0);
    expect(total).toBe(N);
    expectAll(counts, 1);
    expect(watchers.every((w) => !w.armed)).toBe(true);

    // Round two: re-arm all of them (the eventfds are still readable).
    for (const w of watchers) w.modify(Interest.READABLE | Interest.ONESHOT);
    await waitUntil(() => total >= 2 * N, `${N} re-armed events`);
    await settle();
    expect(total).toBe(2 * N);
    expectAll(counts, 2);

    // Close everything: the runtime's watchers, then the descriptors.
    for (const w of watchers) w.close();
    expect(rt.watcherCount).toBe(0);
    expect(rt.pendingCount).toBe(0);
    await rt.run();
    await rt.close();
    for (const fd of fds.splice(0)) sys.close(fd);
    expect(openDescriptors()).toBe(descriptorsBefore);
  });

  it('level-triggered with a read that resets the eventfd: exactly once each, twice, in a small-batch runtime', async () => {
    const descriptorsBefore = openDescriptors();
    // A small batch size makes this hundreds of batches (and several loop turns at the default maxRounds).
    rt = createRuntime({ backend: epoll(), batchSize: 64, trace: false });
    const { list, indexOf } = makeEventfds(N, false);
    const counts = new Uint32Array(N);
    const buf = Buffer.alloc(8);
    let total = 0;
    for (const fd of list) {
      rt.watch(fd, Interest.READABLE, (ev) => {
        const n = sys.read(ev.fd, buf);
        if (n === 8) {
          const i = indexOf[ev.fd] as number;
          counts[i] = (counts[i] as number) + 1;
        }
        total += 1;
      });
    }
    for (let round = 1; round <= 2; round++) {
      for (const fd of list) expect(sys.write(fd, ONE)).toBe(8);
      await waitUntil(() => total >= round * N, `round ${round}`);
      await settle();
      // Level-triggered but reset by the read: nothing is reported twice.
      expect(total).toBe(round * N);
      expectAll(counts, round);
    }
    await rt.close();
    expect(rt.watcherCount).toBe(0);
    for (const fd of fds.splice(0)) sys.close(fd);
    expect(openDescriptors()).toBe(descriptorsBefore);
  });

  it(`${N} readable() promises at once all resolve, leaving no watcher`, async () => {
    rt = createRuntime({ backend: epoll() });
    const { list } = makeEventfds(N, false);
    const all = Promise.all(list.map((fd) => (rt as Runtime).readable(fd)));
    expect(rt.watcherCount).toBe(N);
    for (const fd of list) sys.write(fd, ONE);
    const events = await all;
    expect(events.every((ev, i) => ev.fd === list[i] && ev.readable)).toBe(true);
    expect(rt.watcherCount).toBe(0);
    expect(rt.pendingCount).toBe(0);
  });

  it('closing the runtime with 10,000 live watchers releases them all; the descriptors can be watched again', async () => {
    rt = createRuntime({ backend: epoll() });
    const { list } = makeEventfds(N, true);
    let calls = 0;
    for (const fd of list) rt.watch(fd, Interest.READABLE, () => (calls += 1));
    await waitUntil(() => calls >= N, 'the first events');
    await rt.close();
    expect(rt.watcherCount).toBe(0);
    const after = calls;
    await settle();
    expect(calls).toBe(after);
    // A new runtime can register every one of them again.
    const rt2 = createRuntime({ backend: epoll() });
    try {
      let seen = 0;
      for (const fd of list) rt2.watch(fd, Interest.READABLE | Interest.ONESHOT, () => (seen += 1));
      await waitUntil(() => seen >= N, 'events in the second runtime');
      await settle();
      expect(seen).toBe(N);
    } finally {
      await rt2.close();
    }
  });
});

// The @fdloop/core Runtime on the kqueue backend (emulated kqueue on Linux): watchers in each mode, modify()
// across filters and modes, hang-ups, the async iterator and promises, on real pipes, socketpairs and TCP.
import { Interest, createRuntime, type ReadyEvent, type Runtime } from '@fdloop/core';
import { settle, waitFor as waitUntil } from '@fdloop/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { emulatedKqueue, priorityPair, sys, WOULD_BLOCK } from './emulated.js';

const runtimes: Runtime[] = [];
const fds: number[] = [];

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
  for (const fd of fds.splice(0)) {
    try {
      sys.close(fd);
    } catch {
      // Closed by the test.
    }
  }
});

function runtime(): Runtime {
  const rt = createRuntime({ backend: emulatedKqueue() });
  runtimes.push(rt);
  return rt;
}

function track(pair: [number, number]): [number, number] {
  fds.push(...pair);
  return pair;
}

const text = (s: string): Buffer => Buffer.from(s);

function drain(fd: number): string {
  const buf = Buffer.alloc(4096);
  let out = '';
  for (;;) {
    const n = sys.read(fd, buf);
    if (n === WOULD_BLOCK || n === 0) return out;
    out += buf.toString('utf8', 0, n);
  }
}

describe('runtime on kqueue (emulated kqueue on Linux)', () => {
  it('level-triggered: reported while unread, silent once drained', async () => {
    const rt = runtime();
    const [r, w] = track(sys.pipe());
    let calls = 0;
    let draining = false;
    rt.watch(r, Interest.READABLE, () => {
      calls += 1;
      if (draining) drain(r);
    });
    sys.write(w, text('x'));
    await waitUntil(() => calls >= 5, 'five level-triggered reports');
    draining = true;
    await settle();
    const after = calls;
    await settle();
    expect(calls).toBe(after);
  });

  it('EDGE: once per arrival; ONESHOT: once until modify() re-arms; then level again', async () => {
    const rt = runtime();
    const [r, w] = track(sys.pipe());
    let calls = 0;
    const watcher = rt.watch(r, Interest.READABLE | Interest.EDGE, () => {
      calls += 1;
    });
    sys.write(w, text('x'));
    await waitUntil(() => calls === 1, 'the first edge');
    await settle();
    expect(calls).toBe(1);

    watcher.modify(Interest.READABLE | Interest.ONESHOT);
    await waitUntil(() => calls === 2, 'the one-shot report of the unread byte');
    expect(watcher.armed).toBe(false);
    await settle();
    expect(calls).toBe(2);
    watcher.modify(Interest.READABLE | Interest.ONESHOT);
    await waitUntil(() => calls === 3, 're-armed');

    watcher.modify(Interest.READABLE);
    await waitUntil(() => calls >= 6, 'level reports');
    expect(drain(r)).toBe('x');
  });

  it('modify() moves a watcher from EVFILT_READ to EVFILT_WRITE and to both', async () => {
    const rt = runtime();
    const [a, b] = track(sys.socketpair());
    const seen: ReadyEvent[] = [];
    const watcher = rt.watch(a, Interest.READABLE, (ev) => seen.push(ev));
    await settle();
    expect(seen).toEqual([]);
    watcher.modify(Interest.WRITABLE | Interest.ONESHOT);
    await waitUntil(() => seen.length === 1, 'writable');
    expect(seen[0]?.writable).toBe(true);
    expect(seen[0]?.readable).toBe(false);
    sys.write(b, text('x'));
    watcher.modify(Interest.READABLE | Interest.WRITABLE | Interest.ONESHOT);
    await waitUntil(() => seen.length === 2, 'readable and writable in one event');
    expect(seen[1]?.readable).toBe(true);
    expect(seen[1]?.writable).toBe(true);
  });

  it('a peer shutting down is a read hang-up, then end of file', async () => {
    const rt = runtime();
    const [a, b] = track(sys.socketpair());
    const event = rt.readable(a);
    sys.close(b);
    const ev = await event;
    expect(ev.readable).toBe(true);
    expect(ev.readHangup).toBe(true);
    expect(sys.read(a, Buffer.alloc(8))).toBe(0);
  });

  it('events() yields one event per pull and wait(PRIORITY) sees TCP urgent data', async () => {
    const rt = runtime();
    const [r, w] = track(sys.pipe());
    const received: string[] = [];
    const consumer = (async () => {
      for await (const ev of rt.events(r, Interest.READABLE)) {
        expect(ev.readable).toBe(true);
        received.push(drain(r));
        if (received.join('').length >= 3) break;
      }
    })();
    for (const chunk of ['a', 'b', 'c']) {
      sys.write(w, text(chunk));
      await settle();
    }
    await consumer;
    expect(received.join('')).toBe('abc');
    expect(rt.watcherCount).toBe(0);

    const pair = priorityPair();
    try {
      const waiting = rt.wait(pair.fd, Interest.PRIORITY);
      pair.trigger();
      expect((await waiting).priority).toBe(true);
    } finally {
      pair.close();
    }
  });

  it('run() resolves once the last watcher closes', async () => {
    const rt = runtime();
    const [r, w] = track(sys.pipe());
    const order: string[] = [];
    await rt.run(async () => {
      const watcher = rt.watch(r, Interest.READABLE, () => {
        order.push(drain(r));
        watcher.close();
      });
      rt.setTimeout(() => sys.write(w, text('late')), 10);
    });
    order.push('done');
    expect(order).toEqual(['late', 'done']);
  });
});

/**
 * fdloop: `createRuntime({ backend: epoll() })`, level-triggered `rt.watch(fd, Interest.READABLE, cb)`, and the
 * backend's `sys.read`/`sys.write` for the I/O.
 */

import { performance } from 'node:perf_hooks';
import { createRuntime, Interest, type Watcher } from '@fdloop/core';
import { epoll, sys } from '@fdloop/backend-epoll';
import { CHECK_EVERY, eventfdOne, type ChildParams, type Sample } from '../common.js';

const IO = 'sys.read/sys.write of @fdloop/backend-epoll';

export async function p1(params: ChildParams): Promise<Sample> {
  const setupStart = performance.now();
  const rt = createRuntime({ backend: epoll() });
  const [ar, aw] = sys.pipe();
  const [br, bw] = sys.pipe();
  const one = Buffer.from('x');
  const scratch = Buffer.alloc(64);
  const setupMs = performance.now() - setupStart;

  const measure = (seconds: number): Promise<Sample> =>
    new Promise((resolve) => {
      let trips = 0;
      const start = performance.now();
      const limit = seconds * 1000;
      const wa: Watcher = rt.watch(ar, Interest.READABLE, () => {
        sys.read(ar, scratch, 0, 1);
        sys.write(bw, one);
      });
      const wb: Watcher = rt.watch(br, Interest.READABLE, () => {
        sys.read(br, scratch, 0, 1);
        trips++;
        if (trips % CHECK_EVERY === 0) {
          const elapsed = performance.now() - start;
          if (elapsed >= limit) {
            wa.close();
            wb.close();
            resolve({ ops: trips, seconds: elapsed / 1000 });
            return;
          }
        }
        sys.write(aw, one);
      });
      sys.write(aw, one);
    });

  await measure(params.warmup);
  const sample = await measure(params.seconds);
  await rt.close();
  for (const fd of [ar, aw, br, bw]) sys.close(fd);
  return { ...sample, fds: 5, io: IO, setupMs };
}

export async function p2(params: ChildParams): Promise<Sample> {
  const n = params.fanin;
  const setupStart = performance.now();
  const rt = createRuntime({ backend: epoll() });
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(sys.eventfd(0));
  const one = eventfdOne();
  const scratch = Buffer.alloc(8);

  // The round in progress; the callbacks are registered once, before any timing.
  let handled = 0;
  let onRoundDone: () => void = () => {};
  const watchers: Watcher[] = [];
  for (const fd of fds) {
    watchers.push(
      rt.watch(fd, Interest.READABLE, () => {
        sys.read(fd, scratch, 0, 8);
        if (++handled === n) onRoundDone();
      }),
    );
  }
  const setupMs = performance.now() - setupStart;

  const signalAll = (): void => {
    handled = 0;
    for (let i = 0; i < n; i++) sys.write(fds[i] as number, one, 0, 8);
  };

  const measure = (seconds: number): Promise<Sample> =>
    new Promise((resolve) => {
      let rounds = 0;
      const start = performance.now();
      const limit = seconds * 1000;
      onRoundDone = () => {
        rounds++;
        const elapsed = performance.now() - start;
        if (elapsed >= limit) {
          onRoundDone = () => {};
          resolve({ ops: rounds * n, rounds, seconds: elapsed / 1000 });
          return;
        }
        signalAll();
      };
      signalAll();
    });

  await measure(params.warmup);
  const sample = await measure(params.seconds);
  for (const w of watchers) w.close();
  await rt.close();
  for (const fd of fds) sys.close(fd);
  return { ...sample, fds: n + 1, perRound: n, io: IO, setupMs };
}

/**
 * The npm `epoll` package (v4): `new Epoll((err, fd, events) => …)`, `.add(fd, Epoll.EPOLLIN)`, level-triggered.
 * It has no pipe() or eventfd(), so the descriptors come from `@fdloop/backend-epoll`'s `sys.pipe()` /
 * `sys.eventfd()`, and the reads and writes use the same `sys.read`/`sys.write` as the fdloop contender: the two
 * differ only in how readiness reaches JavaScript.
 */

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { sys } from '@fdloop/backend-epoll';
import { CHECK_EVERY, eventfdOne, type ChildParams, type Sample } from '../common.js';

const IO = 'sys.read/sys.write of @fdloop/backend-epoll (same as fdloop), fds from sys.pipe()/sys.eventfd()';

type EpollCallback = (err: Error | null, fd: number, events: number) => void;

interface EpollInstance {
  add(fd: number, events: number): EpollInstance;
  modify(fd: number, events: number): EpollInstance;
  remove(fd: number): EpollInstance;
  close(): null;
  readonly closed: boolean;
}

interface EpollClass {
  new (callback: EpollCallback): EpollInstance;
  readonly EPOLLIN: number;
}

function loadEpoll(): EpollClass {
  const require = createRequire(import.meta.url);
  let mod: { Epoll?: EpollClass };
  try {
    mod = require('epoll') as { Epoll?: EpollClass };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    if (code === 'MODULE_NOT_FOUND' && /'epoll'/.test(why ?? '')) {
      throw new Error(
        "the npm package 'epoll' is not installed: it is an optional dependency of @fdloop/bench and its native " +
          'build (node-gyp) probably failed during npm install; `npm rebuild epoll` shows why',
      );
    }
    throw new Error(`the npm package 'epoll' failed to load: ${why}`);
  }
  if (typeof mod.Epoll !== 'function') throw new Error('the epoll package did not export an Epoll constructor (not Linux?)');
  return mod.Epoll;
}

export async function p1(params: ChildParams): Promise<Sample> {
  const Epoll = loadEpoll();
  const setupStart = performance.now();
  const [ar, aw] = sys.pipe();
  const [br, bw] = sys.pipe();
  const one = Buffer.from('x');
  const scratch = Buffer.alloc(64);

  let trips = 0;
  let start = 0;
  let limit = 0;
  let done: ((s: Sample) => void) | undefined;
  const poller = new Epoll((err, fd) => {
    if (err) throw err;
    if (fd === ar) {
      sys.read(ar, scratch, 0, 1);
      sys.write(bw, one);
      return;
    }
    sys.read(br, scratch, 0, 1);
    trips++;
    if (trips % CHECK_EVERY === 0) {
      const elapsed = performance.now() - start;
      if (elapsed >= limit) {
        const finish = done;
        done = undefined;
        finish?.({ ops: trips, seconds: elapsed / 1000 });
        return;
      }
    }
    sys.write(aw, one);
  });
  poller.add(ar, Epoll.EPOLLIN).add(br, Epoll.EPOLLIN);
  const setupMs = performance.now() - setupStart;

  const measure = (seconds: number): Promise<Sample> =>
    new Promise((resolve) => {
      trips = 0;
      limit = seconds * 1000;
      done = resolve;
      start = performance.now();
      sys.write(aw, one);
    });

  await measure(params.warmup);
  const sample = await measure(params.seconds);
  poller.close();
  for (const fd of [ar, aw, br, bw]) sys.close(fd);
  // + the package's own epoll fd
  return { ...sample, fds: 5, io: IO, setupMs };
}

export async function p2(params: ChildParams): Promise<Sample> {
  const Epoll = loadEpoll();
  const n = params.fanin;
  const setupStart = performance.now();
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(sys.eventfd(0));
  const one = eventfdOne();
  const scratch = Buffer.alloc(8);

  let handled = 0;
  let onRoundDone: () => void = () => {};
  const poller = new Epoll((err, fd) => {
    if (err) throw err;
    sys.read(fd, scratch, 0, 8);
    if (++handled === n) onRoundDone();
  });
  for (const fd of fds) poller.add(fd, Epoll.EPOLLIN);
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
  // Not poller.close(): the package removes descriptors from a std::list one by one (quadratic for 10,000 fds),
  // and the process exits right after reporting anyway.
  return { ...sample, fds: n + 1, perRound: n, io: IO, setupMs };
}

/**
 * `@fdloop/core/testing`: the backend conformance suite. Any backend, ours or a user's, proves it honours the
 * contract by running it in one call from its test files. The suite uses `node:assert` and real descriptors
 * that the caller's fixture creates, so it works with vitest, `node:test`, mocha or jest.
 *
 * @example
 * ```ts
 * // test/conformance.test.ts of a backend package
 * import { describe, it } from 'vitest';
 * import { runConformanceSuite } from '@fdloop/core/testing';
 * import { epoll, sys } from '@fdloop/backend-epoll';
 *
 * runConformanceSuite({
 *   backend: () => epoll(),
 *   fixture: { pipe: sys.pipe, read: sys.read, write: sys.write, close: sys.close },
 *   describe,
 *   it,
 * });
 * ```
 *
 * @packageDocumentation
 */

import assert from 'node:assert/strict';
import { Interest, Ready, type Backend, type Poller } from '../contract/index.js';
import { ErrnoError, FdloopError } from '../errors.js';
import { createRuntime, type ReadyEvent, type Runtime } from '../runtime.js';
import { recordPoller, settle, waitFor, type PollerRecording } from './helpers.js';
import { runSourceConformanceSuite } from './sources.js';

export { runSourceConformanceSuite, type SourceConformanceOptions } from './sources.js';
export { recordPoller, settle, waitFor, type PollerRecording, type RecordPollerOptions } from './helpers.js';

/** A descriptor that can be made to report {@link Ready.PRIORITY}, from {@link ConformanceFixture.priorityPair}. */
export interface PriorityPair {
  /** The descriptor the suite registers for {@link Interest.PRIORITY}. */
  readonly fd: number;
  /** Make `fd` report an exceptional condition (for TCP: send one byte of urgent data from the peer). */
  trigger(): void;
  /** Close everything the pair opened. */
  close(): void;
}

/** Real descriptors for the suite, created with the backend's platform calls. */
export interface ConformanceFixture {
  /** A new non-blocking pipe (or an equivalent connected pair): `[readEnd, writeEnd]`. */
  pipe(): [number, number];
  /** Write bytes; returns the count written, or a negative number when it would block. */
  write(fd: number, data: Uint8Array): number;
  /** Read into `buffer`; returns the count read (0 at end of file), or a negative number when it would block. */
  read(fd: number, buffer: Uint8Array): number;
  /** Close a descriptor. */
  close(fd: number): void;
  /**
   * Optional: a descriptor that can be made to report {@link Ready.PRIORITY} (for example a TCP connection that
   * receives urgent data). Without it the priority tests are skipped.
   */
  priorityPair?(): PriorityPair;
}

/** A `describe` function: vitest's, `node:test`'s, mocha's… */
export type DescribeFn = (name: string, body: () => void) => unknown;
/** An `it` function: vitest's, `node:test`'s, mocha's… */
export type ItFn = (name: string, body: () => Promise<void> | void) => unknown;

/** Options of {@link runConformanceSuite}. */
export interface ConformanceOptions {
  /** Creates a fresh backend for each test. */
  readonly backend: () => Backend;
  /** Creates real descriptors. */
  readonly fixture: ConformanceFixture;
  /** The test framework's `describe`. */
  readonly describe: DescribeFn;
  /** The test framework's `it`. */
  readonly it: ItFn;
  /** A label for the suite. Defaults to `` `conformance: ${backend().name}` ``. */
  readonly name?: string;
  /** How long to wait for an event that must arrive, in milliseconds. Defaults to `2000`. */
  readonly timeoutMs?: number;
}

function recordingPoller(backend: Backend, batchSize = 64): { poller: Poller; rec: PollerRecording } {
  const rec = recordPoller(backend, { batchSize });
  return { poller: rec.poller, rec };
}

/**
 * Define the conformance tests with the given framework. Capability-dependent tests (edge, oneshot, priority)
 * run only when the backend declares the capability, and then must pass.
 */
export function runConformanceSuite(options: ConformanceOptions): void {
  const { describe, it, fixture } = options;
  const timeout = options.timeoutMs ?? 2000;
  const probe = options.backend();
  const caps = probe.capabilities;
  const label = options.name ?? `conformance: ${probe.name}`;

  const withPipe = async (body: (r: number, w: number) => Promise<void>): Promise<void> => {
    const [r, w] = fixture.pipe();
    try {
      await body(r, w);
    } finally {
      fixture.close(r);
      fixture.close(w);
    }
  };
  const withRuntime = async (body: (rt: Runtime) => Promise<void>, batchSize?: number): Promise<void> => {
    const rt = createRuntime({ backend: options.backend(), ...(batchSize ? { batchSize } : {}) });
    try {
      await body(rt);
    } finally {
      await rt.close();
    }
  };

  describe(label, () => {
    // Event sources: each group runs when the backend declares the capability (see testing/sources.ts).
    runSourceConformanceSuite({ backend: options.backend, describe, it, timeoutMs: timeout });

    describe('backend shape', () => {
      it('has a name and every capability as a boolean', () => {
        const b = options.backend();
        assert.equal(typeof b.name, 'string');
        assert.ok(b.name.length > 0);
        for (const key of ['edge', 'oneshot', 'priority', 'readHangup', 'timer', 'signal', 'notifier', 'pathWatch', 'processExit', 'completionIo', 'gpio', 'fanotify']) {
          assert.equal(typeof (b.capabilities as unknown as Record<string, unknown>)[key], 'boolean', `capability ${key}`);
        }
      });

      it('gives a poller a Float64Array of 2 * batchSize doubles', () => {
        const { poller } = recordingPoller(options.backend(), 32);
        try {
          assert.ok(poller.events instanceof Float64Array);
          assert.ok(poller.events.length >= 64);
        } finally {
          poller.close();
        }
      });
    });

    describe('poller', () => {
      it('reports a readable pipe with the token given, verbatim', async () => {
        await withPipe(async (r, w) => {
          const { poller, rec } = recordingPoller(options.backend());
          try {
            const token = 2 ** 40 + 12345;
            poller.register(r, token, Interest.READABLE);
            fixture.write(w, Buffer.from('x'));
            await waitFor(() => rec.pairs.length > 0, 'a readable event', timeout);
            const [tok, flags] = rec.pairs[0] as [number, number];
            assert.equal(tok, token);
            assert.ok(flags & Ready.READABLE, 'READABLE flag');
          } finally {
            poller.close();
          }
        });
      });

      it('reports the write end of an empty pipe as writable', async () => {
        await withPipe(async (_r, w) => {
          const { poller, rec } = recordingPoller(options.backend());
          try {
            poller.register(w, 7, Interest.WRITABLE);
            await waitFor(() => rec.pairs.length > 0, 'a writable event', timeout);
            assert.ok((rec.pairs[0] as [number, number])[1] & Ready.WRITABLE);
          } finally {
            poller.close();
          }
        });
      });

      it('is level-triggered by default: an unread pipe is reported again', async () => {
        await withPipe(async (r, w) => {
          const { poller, rec } = recordingPoller(options.backend());
          try {
            poller.register(r, 1, Interest.READABLE);
            fixture.write(w, Buffer.from('x'));
            await waitFor(() => rec.batches.length >= 3, 'three level-triggered reports', timeout);
          } finally {
            poller.close();
          }
        });
      });

      it('delivers many ready descriptors in batches no larger than batchSize, each token once per batch', async () => {
        const pipes: Array<[number, number]> = [];
        const { poller, rec } = recordingPoller(options.backend(), 16);
        try {
          for (let i = 0; i < 100; i++) {
            const p = fixture.pipe();
            pipes.push(p);
            poller.register(p[0], 1000 + i, Interest.READABLE | (caps.oneshot ? Interest.ONESHOT : 0));
          }
          for (const [, w] of pipes) fixture.write(w, Buffer.from('x'));
          await waitFor(() => new Set(rec.pairs.map((p) => p[0])).size === 100, 'all 100 tokens', timeout);
          assert.ok(rec.batches.every((n) => n >= 0 && n <= 16), `batch sizes ${rec.batches.join(',')}`);
          assert.ok(rec.batches.length >= 7, 'at least ceil(100/16) batches');
        } finally {
          poller.close();
          for (const [r, w] of pipes) {
            fixture.close(r);
            fixture.close(w);
          }
        }
      });

      it('stops reporting after deregister', async () => {
        await withPipe(async (r, w) => {
          const { poller, rec } = recordingPoller(options.backend());
          try {
            poller.register(r, 1, Interest.READABLE);
            poller.deregister(r);
            fixture.write(w, Buffer.from('x'));
            await settle();
            assert.equal(rec.pairs.length, 0);
          } finally {
            poller.close();
          }
        });
      });

      it('reregister changes interest and token', async () => {
        await withPipe(async (r, w) => {
          const { poller, rec } = recordingPoller(options.backend());
          try {
            poller.register(w, 1, Interest.READABLE);
            poller.reregister(w, 2, Interest.WRITABLE);
            await waitFor(() => rec.pairs.length > 0, 'a writable event', timeout);
            assert.equal((rec.pairs[0] as [number, number])[0], 2);
            void r;
          } finally {
            poller.close();
          }
        });
      });

      it('reports hang-up on the read end when the write end closes', async () => {
        const [r, w] = fixture.pipe();
        const { poller, rec } = recordingPoller(options.backend());
        try {
          poller.register(r, 3, Interest.READABLE);
          fixture.close(w);
          await waitFor(() => rec.pairs.length > 0, 'a hang-up event', timeout);
          const flags = (rec.pairs[0] as [number, number])[1];
          assert.ok(flags & (Ready.HANGUP | Ready.READ_HANGUP | Ready.READABLE), `flags ${flags}`);
          assert.equal(fixture.read(r, Buffer.alloc(8)), 0, 'read returns end of file');
        } finally {
          poller.close();
          fixture.close(r);
        }
      });

      if (caps.edge) {
        it('EDGE: reports an arrival once, and the next arrival after a drain to would-block', async () => {
          await withPipe(async (r, w) => {
            const { poller, rec } = recordingPoller(options.backend());
            try {
              poller.register(r, 1, Interest.READABLE | Interest.EDGE);
              fixture.write(w, Buffer.from('x'));
              await waitFor(() => rec.pairs.length > 0, 'an edge event', timeout);
              await settle();
              assert.equal(rec.pairs.length, 1, 'no repeat while nothing new arrives');
              // The contract promises the next report only once the reader has drained the descriptor (a read
              // that says would-block) and something new arrives; a backend may report more often (epoll does).
              const buf = Buffer.alloc(64);
              let n = 0;
              for (let i = 0; i < 1000 && (n = fixture.read(r, buf)) > 0; i++);
              assert.ok(n < 0, `the drain ends with would-block (last read: ${n})`);
              await settle();
              assert.equal(rec.pairs.length, 1, 'a drain alone reports nothing');
              fixture.write(w, Buffer.from('y'));
              await waitFor(() => rec.pairs.length > 1, 'a second edge', timeout);
            } finally {
              poller.close();
            }
          });
        });
      }

      if (caps.oneshot) {
        it('ONESHOT: reports once, then again only after reregister', async () => {
          await withPipe(async (r, w) => {
            const { poller, rec } = recordingPoller(options.backend());
            try {
              poller.register(r, 1, Interest.READABLE | Interest.ONESHOT);
              fixture.write(w, Buffer.from('x'));
              await waitFor(() => rec.pairs.length > 0, 'a oneshot event', timeout);
              await settle();
              assert.equal(rec.pairs.length, 1);
              poller.reregister(r, 2, Interest.READABLE | Interest.ONESHOT);
              await waitFor(() => rec.pairs.length > 1, 're-armed event', timeout);
              assert.equal((rec.pairs[1] as [number, number])[0], 2);
            } finally {
              poller.close();
            }
          });
        });
      }

      if (caps.priority && fixture.priorityPair) {
        it('PRIORITY: reports an exceptional condition', async () => {
          const pair = (fixture.priorityPair as NonNullable<ConformanceFixture['priorityPair']>)();
          const { poller, rec } = recordingPoller(options.backend());
          try {
            poller.register(pair.fd, 9, Interest.PRIORITY);
            pair.trigger();
            await waitFor(() => rec.pairs.some(([, f]) => (f & Ready.PRIORITY) !== 0), 'a priority event', timeout);
          } finally {
            poller.close();
            pair.close();
          }
        });
      }

      it('throws an ErrnoError for a closed descriptor', async () => {
        // The poller first: created after the close, its own descriptor could take the freed number.
        const { poller } = recordingPoller(options.backend());
        const [r, w] = fixture.pipe();
        fixture.close(r);
        fixture.close(w);
        try {
          assert.throws(
            () => poller.register(r, 1, Interest.READABLE),
            (err: unknown) => err instanceof ErrnoError && err.code === 'EBADF' && err.errno < 0 && typeof err.syscall === 'string',
          );
        } finally {
          poller.close();
        }
      });

      it('throws an ErrnoError when a descriptor is registered twice', async () => {
        await withPipe(async (r) => {
          const { poller } = recordingPoller(options.backend());
          try {
            poller.register(r, 1, Interest.READABLE);
            assert.throws(() => poller.register(r, 2, Interest.READABLE), (err: unknown) => err instanceof ErrnoError);
          } finally {
            poller.close();
          }
        });
      });

      it('close() is idempotent and nothing is delivered after it', async () => {
        await withPipe(async (r, w) => {
          const { poller, rec } = recordingPoller(options.backend());
          poller.register(r, 1, Interest.READABLE);
          fixture.write(w, Buffer.from('x'));
          poller.close();
          poller.close();
          await settle();
          assert.equal(rec.batches.length, 0);
        });
      });
    });

    describe('runtime on this backend', () => {
      it('watch() delivers ReadyEvents to the callback', async () => {
        await withRuntime(async (rt) => {
          await withPipe(async (r, w) => {
            const seen: ReadyEvent[] = [];
            const watcher = rt.watch(r, Interest.READABLE, (ev) => {
              seen.push(ev);
              fixture.read(r, Buffer.alloc(16));
              watcher.close();
            });
            fixture.write(w, Buffer.from('hi'));
            await waitFor(() => seen.length > 0, 'the callback', timeout);
            assert.equal(seen[0]?.fd, r);
            assert.equal(seen[0]?.readable, true);
          });
        });
      });

      it('readable() resolves and run() resolves when nothing is pending', async () => {
        await withRuntime(async (rt) => {
          await withPipe(async (r, w) => {
            let event: ReadyEvent | undefined;
            await rt.run(async () => {
              rt.setTimeout(() => fixture.write(w, Buffer.from('x')), 5);
              event = await rt.readable(r);
            });
            assert.equal(event?.readable, true);
            assert.equal(rt.watcherCount, 0);
          });
        });
      });

      it('readable() rejects with the signal reason when aborted', async () => {
        await withRuntime(async (rt) => {
          await withPipe(async (r) => {
            const ac = new AbortController();
            const p = rt.readable(r, { signal: ac.signal });
            ac.abort(new Error('stop'));
            await assert.rejects(p, /stop/);
            assert.equal(rt.watcherCount, 0);
          });
        });
      });

      it('events() yields one event per next() and closes on break', async () => {
        await withRuntime(async (rt) => {
          await withPipe(async (r, w) => {
            let n = 0;
            fixture.write(w, Buffer.from('abc'));
            for await (const ev of rt.events(r, Interest.READABLE)) {
              assert.ok(ev.readable);
              n += 1;
              if (n === 3) break;
            }
            assert.equal(n, 3);
            assert.equal(rt.watcherCount, 0);
          });
        });
      });

      it('closing a watcher inside a callback drops its remaining events of the batch', async () => {
        await withRuntime(async (rt) => {
          const [r1, w1] = fixture.pipe();
          const [r2, w2] = fixture.pipe();
          try {
            const calls: string[] = [];
            const watchers: Array<ReturnType<Runtime['watch']>> = [];
            const closeBoth = (name: string) => () => {
              calls.push(name);
              for (const watcher of watchers) watcher.close();
            };
            watchers.push(rt.watch(r1, Interest.READABLE, closeBoth('a')));
            watchers.push(rt.watch(r2, Interest.READABLE, closeBoth('b')));
            fixture.write(w1, Buffer.from('x'));
            fixture.write(w2, Buffer.from('x'));
            await waitFor(() => calls.length > 0, 'first callback', timeout);
            await settle();
            assert.equal(calls.length, 1, `only one callback ran: ${calls.join(',')}`);
          } finally {
            for (const fd of [r1, w1, r2, w2]) fixture.close(fd);
          }
        });
      });

      it('a descriptor number reused within a batch never receives the old event', async () => {
        await withRuntime(async (rt) => {
          const [rA, wA] = fixture.pipe();
          const [rB, wB] = fixture.pipe();
          const received: string[] = [];
          const extra: number[] = [];
          try {
            const holder: { watchB?: ReturnType<Runtime['watch']> } = {};
            const onFirst = (name: string) => () => {
              received.push(name);
              // Close the other watcher and its read end, then make a fresh pipe that reuses that number.
              const otherFd = name === 'A' ? rB : rA;
              const other = name === 'A' ? holder.watchB : watchA;
              other?.close();
              fixture.close(otherFd);
              const [nr, nw] = fixture.pipe();
              extra.push(nr, nw);
              rt.watch(nr, Interest.READABLE, () => received.push(`new(${nr}) reuse=${nr === otherFd}`)).unref();
              watchA.close();
              holder.watchB?.close();
            };
            const watchA = rt.watch(rA, Interest.READABLE, onFirst('A'));
            holder.watchB = rt.watch(rB, Interest.READABLE, onFirst('B'));
            fixture.write(wA, Buffer.from('x'));
            fixture.write(wB, Buffer.from('x'));
            await waitFor(() => received.length > 0, 'first callback', timeout);
            await settle();
            assert.equal(received.length, 1, `the new watcher received nothing: ${received.join(', ')}`);
          } finally {
            for (const fd of [rA, wA, rB, wB, ...extra]) {
              try {
                fixture.close(fd);
              } catch {
                // Already closed by the test body.
              }
            }
          }
        });
      });

      it('rejects bad input with typed errors', async () => {
        await withRuntime(async (rt) => {
          await withPipe(async (r) => {
            const isCode = (code: string) => (err: unknown) => err instanceof FdloopError && err.code === code;
            assert.throws(() => rt.watch(-1, Interest.READABLE, () => {}), isCode('ERR_FDLOOP_INVALID_ARGUMENT'));
            assert.throws(() => rt.watch(1.5, Interest.READABLE, () => {}), isCode('ERR_FDLOOP_INVALID_ARGUMENT'));
            assert.throws(() => rt.watch(r, 0, () => {}), isCode('ERR_FDLOOP_INVALID_ARGUMENT'));
            assert.throws(() => rt.watch(r, Interest.EDGE, () => {}), isCode('ERR_FDLOOP_INVALID_ARGUMENT'));
            const w = rt.watch(r, Interest.READABLE, () => {});
            assert.throws(() => rt.watch(r, Interest.READABLE, () => {}), isCode('ERR_FDLOOP_ALREADY_WATCHED'));
            w.close();
            await rt.close();
            assert.throws(() => rt.watch(r, Interest.READABLE, () => {}), isCode('ERR_FDLOOP_RUNTIME_CLOSED'));
            assert.throws(() => w.modify(Interest.READABLE), isCode('ERR_FDLOOP_WATCHER_CLOSED'));
          });
        });
      });

      it('close() rejects pending promises with ERR_FDLOOP_CANCELLED and calls no callback afterwards', async () => {
        const rt = createRuntime({ backend: options.backend() });
        await withPipe(async (r, w) => {
          let called = false;
          const [r2, w2] = fixture.pipe();
          try {
            rt.watch(r2, Interest.READABLE, () => {
              called = true;
            });
            const p = rt.readable(r);
            await rt.close();
            await assert.rejects(p, (err: unknown) => err instanceof FdloopError && err.code === 'ERR_FDLOOP_CANCELLED');
            fixture.write(w, Buffer.from('x'));
            fixture.write(w2, Buffer.from('x'));
            await settle();
            assert.equal(called, false);
          } finally {
            fixture.close(r2);
            fixture.close(w2);
          }
        });
      });
    });
  });
}

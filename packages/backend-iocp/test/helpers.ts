// Shared helpers of the backend-iocp tests: a recording poller and polling waits (no timing assertions: a wait
// only bounds how long a test may hang).
import { setTimeout as sleep } from 'node:timers/promises';
import { getSystemErrorName } from 'node:util';
import { afterEach, expect } from 'vitest';
import { createRuntime, type Runtime } from '@fdloop/core';
import { recordPoller, waitFor as waitForCondition, type PollerRecording } from '@fdloop/core/testing';
import { iocp, sys, type IocpPoller } from '../src/index.js';

/** What a recording poller has received: batch sizes and every `(token, value)` pair. */
export type Recorded = PollerRecording;

/** A poller whose sink records everything (`recordPoller` of `@fdloop/core/testing` over a fresh `iocp()`). */
export function recordingPoller(batchSize = 64): { poller: IocpPoller; rec: Recorded } {
  const rec = recordPoller(iocp(), { batchSize });
  return { poller: rec.poller as IocpPoller, rec };
}

/** Runs `body` with a fresh {@link recordingPoller}, and closes the poller after it, whatever happens. */
export async function withRecordingPoller(body: (poller: IocpPoller, rec: Recorded) => Promise<void>): Promise<void> {
  const { poller, rec } = recordingPoller();
  try {
    await body(poller, rec);
  } finally {
    poller.close();
  }
}

/** Runs `body` with a fresh runtime on this backend, and closes the runtime after it, whatever happens. */
export async function withRuntime(body: (rt: Runtime) => Promise<void>): Promise<void> {
  const rt = createRuntime({ backend: iocp() });
  try {
    await body(rt);
  } finally {
    await rt.close();
  }
}

/** The value delivered for `token` (a completion's byte count or -errno), or undefined while none has arrived. */
export function resultOf(rec: Recorded, token: number): number | undefined {
  return rec.pairs.find(([t]) => t === token)?.[1];
}

/** Waits until a value for `token` has arrived ({@link resultOf}) and returns it. */
export async function completionOf(rec: Recorded, token: number, what: string): Promise<number> {
  await waitFor(() => resultOf(rec, token) !== undefined, what);
  return resultOf(rec, token) as number;
}

/**
 * The cancellation scenario of the pipe and serial suites: a read pending on `reader` (token `tokens[0]`), cancelled,
 * delivers ECANCELED exactly once and leaves nothing to cancel; then the handle stays usable: a read (`tokens[1]`)
 * gets what a write on `writer` (`tokens[2]`) sends.
 */
export async function expectCancelledReadThenReuse(
  poller: IocpPoller,
  rec: Recorded,
  reader: number,
  writer: number,
  tokens: [number, number, number],
): Promise<void> {
  const [cancelled, next, write] = tokens;
  poller.read(reader, Buffer.alloc(16), cancelled);
  await settle();
  expect(poller.stats()).toMatchObject({ pending: 1, io: 1 });
  expect(poller.cancel(cancelled)).toBe(true);
  const value = await completionOf(rec, cancelled, 'the cancelled read');
  expect(value).toBeLessThan(0);
  expect(getSystemErrorName(value)).toBe('ECANCELED');
  expect(poller.cancel(cancelled)).toBe(false); // delivered: nothing left to cancel
  await settle();
  expect(rec.pairs.filter(([t]) => t === cancelled)).toHaveLength(1);
  expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });

  const buf = Buffer.alloc(16);
  poller.read(reader, buf, next);
  poller.write(writer, Buffer.from('after'), write);
  expect(buf.toString('utf8', 0, await completionOf(rec, next, 'a read after the cancellation'))).toBe('after');
}

/**
 * Sockets a test file opens, closed after each test (one that a test closed itself is skipped): `pair()` makes a
 * tracked `sys.socketPair()`, and `opened` takes any other socket. Call once, at the top of the file.
 */
export function socketsClosedAfterEach(): { opened: number[]; pair: () => [number, number] } {
  const opened: number[] = [];
  afterEach(() => {
    for (const fd of opened.splice(0)) {
      try {
        sys.closeSocket(fd);
      } catch {
        // closed by the test itself
      }
    }
  });
  return {
    opened,
    pair() {
      const p = sys.socketPair();
      opened.push(...p);
      return p;
    },
  };
}

/** Resolve once `cond()` holds; fail after `timeoutMs` (default 10 s: Wine is slow, and this is no timing test). */
export function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return waitForCondition(cond, what, timeoutMs);
}

/** Let the loop turn a few times, so that an event that would arrive has arrived. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await sleep(50);
}

/** The node:fs-visible fields of an error, for comparing ours with node:fs's. */
export interface Shape {
  message: string;
  code: string | undefined;
  errno: number | undefined;
  syscall: string | undefined;
  path: string | undefined;
}

/** The {@link Shape} of an error. */
export function shape(error: unknown): Shape {
  const e = error as NodeJS.ErrnoException;
  return { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path };
}

/** The {@link Shape} of what `fn` throws or rejects with; fails when it succeeds. */
export async function errorOf(fn: () => unknown): Promise<Shape> {
  try {
    await fn();
  } catch (error) {
    return shape(error);
  }
  throw new Error('the call did not fail');
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend, Poller } from '../contract/index.js';

/** What {@link recordPoller} records: every batch a poller delivers, as it arrives. */
export interface PollerRecording {
  /** The poller, created by {@link recordPoller} over the backend it was given. Close it when done. */
  readonly poller: Poller;
  /** The size of each batch, in delivery order. */
  readonly batches: number[];
  /** Every `(token, ready flags)` pair delivered, in order. */
  readonly pairs: Array<[token: number, flags: number]>;
  /** Called after each batch has been recorded, with its size (set it at any time; none by default). */
  onBatch?: (count: number) => void;
}

/** Options of {@link recordPoller}. */
export interface RecordPollerOptions {
  /** The poller's batch size. Defaults to `64`. */
  readonly batchSize?: number;
}

/**
 * Creates a poller over `backend` whose sink records every batch: for a backend's own tests of what its poller
 * reports, below the runtime.
 *
 * @param backend - The backend under test.
 * @param options - The batch size (default `64`).
 * @returns The poller and the arrays it fills.
 *
 * @example
 * ```ts
 * import { Interest } from '@fdloop/core';
 * import { recordPoller, waitFor } from '@fdloop/core/testing';
 * import { epoll, sys } from '@fdloop/backend-epoll';
 *
 * const rec = recordPoller(epoll());
 * const [r, w] = sys.pipe();
 * rec.poller.register(r, 7, Interest.READABLE);
 * sys.write(w, Buffer.from('x'));
 * await waitFor(() => rec.pairs.length > 0, 'the readable pipe');
 * rec.poller.close();
 * ```
 */
export function recordPoller(backend: Backend, options: RecordPollerOptions = {}): PollerRecording {
  const batches: number[] = [];
  const pairs: Array<[number, number]> = [];
  const holder: { poller?: Poller } = {};
  const recording: PollerRecording = {
    get poller(): Poller {
      return holder.poller as Poller;
    },
    batches,
    pairs,
  };
  holder.poller = backend.createPoller({
    batchSize: options.batchSize ?? 64,
    sink: {
      onEvents(count: number) {
        batches.push(count);
        const events = (holder.poller as Poller).events;
        for (let i = 0; i < count; i++) pairs.push([events[2 * i] as number, events[2 * i + 1] as number]);
        recording.onBatch?.(count);
      },
    },
  });
  return recording;
}

/**
 * Waits until `condition()` is true, checking every 2 ms, or throws after `timeoutMs` naming `what`.
 *
 * @param condition - Checked until it returns `true`.
 * @param what - What is awaited, for the error message.
 * @param timeoutMs - How long to wait. Defaults to `5000`.
 *
 * @example
 * ```ts
 * await waitFor(() => seen.length === 3, 'three events', 10_000);
 * ```
 */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/**
 * Lets the event loop turn several times and then 20 ms pass, so that an event that was going to arrive has
 * arrived: for checking that something was *not* reported.
 *
 * @example
 * ```ts
 * await settle();
 * expect(rec.pairs).toEqual([]);
 * ```
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  await sleep(20);
}

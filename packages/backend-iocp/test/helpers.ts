// Shared helpers of the backend-iocp tests: a recording poller and polling waits (no timing assertions: a wait
// only bounds how long a test may hang).
import { setTimeout as sleep } from 'node:timers/promises';
import { iocp, type IocpPoller } from '../src/index.js';

/** What a recording poller has received: batch sizes and every `(token, value)` pair. */
export interface Recorded {
  batches: number[];
  pairs: Array<[number, number]>;
}

/** A poller whose sink records everything. */
export function recordingPoller(batchSize = 64): { poller: IocpPoller; rec: Recorded } {
  const rec: Recorded = { batches: [], pairs: [] };
  const holder: { poller?: IocpPoller } = {};
  const poller = iocp().createPoller({
    batchSize,
    sink: {
      onEvents(count: number) {
        rec.batches.push(count);
        const events = (holder.poller as IocpPoller).events;
        for (let i = 0; i < count; i++) rec.pairs.push([events[2 * i] as number, events[2 * i + 1] as number]);
      },
    },
  });
  holder.poller = poller;
  return { poller, rec };
}

/** Resolve once `cond()` holds; fail after `timeoutMs` (default 10 s: Wine is slow, and this is no timing test). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Let the loop turn a few times, so that an event that would arrive has arrived. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await sleep(50);
}

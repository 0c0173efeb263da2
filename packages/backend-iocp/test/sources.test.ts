// Event sources on IOCP beyond the conformance suite: a notifier triggered from another thread through its
// remote description, a timer still armed when its poller closes, and the kinds this backend refuses.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRuntime, type NotifierEvent } from '@fdloop/core';
import { iocp } from '../src/index.js';
import { recordingPoller, settle, waitFor } from './helpers.js';

describe('notifier', () => {
  it('sums notifications sent from a worker thread through notifyRemote', async () => {
    const rt = createRuntime({ backend: iocp() });
    try {
      let total = 0;
      const n = rt.notifier((ev: NotifierEvent) => {
        total += ev.count;
      });
      const worker = new Worker(new URL('./fixtures/notify-worker.mjs', import.meta.url), {
        workerData: { remote: n.remote, count: 7, times: 3 },
      });
      await new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
      });
      await waitFor(() => total === 21, 'all 21 notifications');
      await worker.terminate();
      n.close();
    } finally {
      await rt.close();
    }
  });

  it('refuses a remote description from another process', () => {
    const backend = iocp();
    expect(() => backend.notifyRemote({ backend: 'iocp', port: 4, token: 1, pid: process.pid + 1 }, 1)).toThrowError(
      expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }),
    );
  });
});

describe('timer', () => {
  it('a periodic timer still armed when its poller closes reports nothing afterwards', async () => {
    const { poller, rec } = recordingPoller();
    const timer = poller.addSource<'timer'>({ kind: 'timer', clock: 'monotonic' }, 5);
    timer.arm({ value: 1, absolute: false, interval: 1 });
    await waitFor(() => rec.pairs.length > 0, 'a first expiration');
    expect(timer.read()[0]?.expirations).toBeGreaterThanOrEqual(1);
    poller.close();
    const seen = rec.pairs.length;
    await settle();
    expect(rec.pairs.length).toBe(seen);
  });

  it('disarm() discards expirations already queued', async () => {
    const { poller, rec } = recordingPoller();
    try {
      const timer = poller.addSource<'timer'>({ kind: 'timer', clock: 'monotonic' }, 6);
      timer.arm({ value: 1, absolute: false, interval: 1 });
      await waitFor(() => rec.pairs.length > 0, 'a first expiration');
      timer.disarm();
      expect(timer.read()).toEqual([]);
      const seen = rec.pairs.length;
      await settle();
      expect(rec.pairs.length).toBe(seen);
      timer.close();
    } finally {
      poller.close();
    }
  });
});

describe('refused sources', () => {
  it("'boottime' timers, watching a file, process exit and signals are refused with typed errors", async () => {
    const rt = createRuntime({ backend: iocp() });
    try {
      const unsupported = expect.objectContaining({ code: 'ERR_FDLOOP_UNSUPPORTED' });
      expect(() => rt.timer({ clock: 'boottime', delay: 1 })).toThrowError(unsupported);
      // ReadDirectoryChangesW watches directories only.
      expect(() => rt.watchPath(fileURLToPath(import.meta.url))).toThrowError(expect.objectContaining({ code: 'ENOTDIR' }));
      expect(() => rt.processExit(process.pid)).toThrowError(unsupported);
      expect(() => rt.signal('SIGINT')).toThrowError(unsupported);
      expect(rt.pendingCount).toBe(0);
    } finally {
      await rt.close();
    }
  });
});

// The completion layer: overlapped ReadFile/WriteFile on real files and named pipes, results delivered in the
// poller's batches, and cancellation with CancelIoEx that hands the OVERLAPPED back only through its packet.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sys } from '../src/index.js';
import { recordingPoller, settle, waitFor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fdloop-iocp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function resultOf(rec: { pairs: Array<[number, number]> }, token: number): number | undefined {
  return rec.pairs.find(([t]) => t === token)?.[1];
}

describe('files', () => {
  it('writes and reads a file at offsets through completions', async () => {
    const path = join(dir, 'data.bin');
    writeFileSync(path, 'hello, world');
    const { poller, rec } = recordingPoller();
    const h = sys.openFile(path, { write: true });
    try {
      const read = Buffer.alloc(5);
      poller.read(h, read, 1, 7);
      await waitFor(() => resultOf(rec, 1) !== undefined, 'the read');
      expect(resultOf(rec, 1)).toBe(5);
      expect(read.toString()).toBe('world');

      poller.write(h, Buffer.from('WINE!'), 2, 7);
      await waitFor(() => resultOf(rec, 2) !== undefined, 'the write');
      expect(resultOf(rec, 2)).toBe(5);
      expect(readFileSync(path, 'utf8')).toBe('hello, WINE!');

      // Past the end: 0 bytes, end of file, not an error.
      poller.read(h, Buffer.alloc(4), 3, 1000);
      await waitFor(() => resultOf(rec, 3) !== undefined, 'the read past the end');
      expect(resultOf(rec, 3)).toBe(0);
      expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });
    } finally {
      poller.close();
      sys.closeHandle(h);
    }
  });

  it('refuses bad handles with typed errors and delivers nothing for them', async () => {
    const { poller, rec } = recordingPoller();
    const path = join(dir, 'closed.bin');
    writeFileSync(path, 'x');
    const h = sys.openFile(path);
    sys.closeHandle(h);
    try {
      expect(() => poller.read(h, Buffer.alloc(1), 1)).toThrowError(expect.objectContaining({ code: 'EBADF', syscall: 'ReadFile' }));
      expect(() => sys.openFile(join(dir, 'missing.bin'))).toThrowError(expect.objectContaining({ code: 'ENOENT', syscall: 'CreateFileW' }));
      expect(() => poller.read(h, 'nope' as unknown as Uint8Array, 1)).toThrowError(
        expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }),
      );
      await settle();
      expect(rec.pairs).toEqual([]);
    } finally {
      poller.close();
    }
  });
});

describe('pipes', () => {
  it('reads what the other end writes, then 0 at end of file', async () => {
    const { poller, rec } = recordingPoller();
    const [r, w] = sys.pipe();
    try {
      const buf = Buffer.alloc(64);
      poller.read(r, buf, 10);
      await settle();
      expect(resultOf(rec, 10)).toBeUndefined(); // pending: nothing written yet
      poller.write(w, Buffer.from('ping'), 11);
      await waitFor(() => resultOf(rec, 10) !== undefined && resultOf(rec, 11) !== undefined, 'read and write');
      expect(resultOf(rec, 11)).toBe(4);
      expect(buf.toString('utf8', 0, resultOf(rec, 10))).toBe('ping');
      sys.closeHandle(w);
      poller.read(r, buf, 12);
      await waitFor(() => resultOf(rec, 12) !== undefined, 'end of file');
      expect(resultOf(rec, 12)).toBe(0);
    } finally {
      poller.close();
      sys.closeHandle(r);
    }
  });

  it('cancel during a pending read delivers ECANCELED exactly once, and the handle stays usable', async () => {
    const { poller, rec } = recordingPoller();
    const [r, w] = sys.pipe();
    try {
      poller.read(r, Buffer.alloc(16), 20);
      await settle();
      expect(poller.stats()).toMatchObject({ pending: 1, io: 1 });
      expect(poller.cancel(20)).toBe(true);
      await waitFor(() => resultOf(rec, 20) !== undefined, 'the cancelled read');
      const value = resultOf(rec, 20) as number;
      expect(value).toBeLessThan(0);
      expect(getSystemErrorName(value)).toBe('ECANCELED');
      expect(poller.cancel(20)).toBe(false); // delivered: nothing left to cancel
      await settle();
      expect(rec.pairs.filter(([t]) => t === 20)).toHaveLength(1);
      expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });

      const buf = Buffer.alloc(16);
      poller.read(r, buf, 21);
      poller.write(w, Buffer.from('after'), 22);
      await waitFor(() => resultOf(rec, 21) !== undefined, 'a read after the cancellation');
      expect(buf.toString('utf8', 0, resultOf(rec, 21))).toBe('after');
    } finally {
      poller.close();
      sys.closeHandle(r);
      sys.closeHandle(w);
    }
  });

  it('close() with a read pending cancels it, reclaims its OVERLAPPED and delivers nothing afterwards', async () => {
    const { poller, rec } = recordingPoller();
    const [r, w] = sys.pipe();
    try {
      poller.read(r, Buffer.alloc(16), 30);
      await settle();
      poller.close();
      expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });
      sys.closeHandle(w);
      await settle();
      expect(rec.pairs).toEqual([]);
    } finally {
      sys.closeHandle(r);
    }
  });

  it('a write to a pipe whose read end is closed fails at once with EPIPE, and nothing is delivered', async () => {
    const { poller, rec } = recordingPoller();
    const [r, w] = sys.pipe();
    sys.closeHandle(r);
    try {
      expect(() => poller.write(w, Buffer.from('lost'), 40)).toThrowError(expect.objectContaining({ code: 'EPIPE', syscall: 'WriteFile' }));
      await settle();
      expect(rec.pairs).toEqual([]);
      expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });
    } finally {
      poller.close();
      sys.closeHandle(w);
    }
  });

  it('post() queues a token through PostQueuedCompletionStatus', async () => {
    const { poller, rec } = recordingPoller();
    try {
      poller.post(2 ** 40 + 3);
      await waitFor(() => rec.pairs.length > 0, 'the posted packet');
      expect(rec.pairs[0]).toEqual([2 ** 40 + 3, 1]);
    } finally {
      poller.close();
    }
  });
});

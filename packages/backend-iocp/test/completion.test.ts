// The completion layer: overlapped ReadFile/WriteFile on real files and named pipes, results delivered in the
// poller's batches, and cancellation with CancelIoEx that hands the OVERLAPPED back only through its packet.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sys } from '../src/index.js';
import { completionOf, expectCancelledReadThenReuse, recordingPoller, resultOf, settle, waitFor, withRecordingPoller } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fdloop-iocp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('files', () => {
  it('writes and reads a file at offsets through completions', async () => {
    const path = join(dir, 'data.bin');
    writeFileSync(path, 'hello, world');
    const { poller, rec } = recordingPoller();
    const h = sys.openFile(path, { write: true });
    try {
      const read = Buffer.alloc(5);
      poller.read(h, read, 1, 7);
      expect(await completionOf(rec, 1, 'the read')).toBe(5);
      expect(read.toString()).toBe('world');

      poller.write(h, Buffer.from('WINE!'), 2, 7);
      expect(await completionOf(rec, 2, 'the write')).toBe(5);
      expect(readFileSync(path, 'utf8')).toBe('hello, WINE!');

      // Past the end: 0 bytes, end of file, not an error.
      poller.read(h, Buffer.alloc(4), 3, 1000);
      expect(await completionOf(rec, 3, 'the read past the end')).toBe(0);
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
      expect(await completionOf(rec, 12, 'end of file')).toBe(0);
    } finally {
      poller.close();
      sys.closeHandle(r);
    }
  });

  it('cancel during a pending read delivers ECANCELED exactly once, and the handle stays usable', async () => {
    const { poller, rec } = recordingPoller();
    const [r, w] = sys.pipe();
    try {
      await expectCancelledReadThenReuse(poller, rec, r, w, [20, 21, 22]);
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
    await withRecordingPoller(async (poller, rec) => {
      poller.post(2 ** 40 + 3);
      await waitFor(() => rec.pairs.length > 0, 'the posted packet');
      expect(rec.pairs[0]).toEqual([2 ** 40 + 3, 1]);
    });
  });
});

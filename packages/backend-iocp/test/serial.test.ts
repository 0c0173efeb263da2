// Completion I/O on serial ports, for real: under Wine (scripts/ci-wine.sh) COM9 and COM10 are the two ends of a
// socat pseudo-terminal pair, mapped through the Wine prefix's dosdevices/com9 and com10 symlinks, so every byte
// here crosses a real tty. FDLOOP_IOCP_SERIAL names the two ports ("COM9,COM10"), FDLOOP_IOCP_SERIAL_KIND=wine-pty
// says they are Wine ptys (for the one test of what a pty lacks); without FDLOOP_IOCP_SERIAL the suite is skipped
// (a Windows machine needs two ports joined by a null-modem cable, or a virtual pair such as com0com).
import { randomBytes } from 'node:crypto';
import { getSystemErrorName } from 'node:util';
import { describe, expect, it } from 'vitest';
import { sys, type IocpPoller } from '../src/index.js';
import { completionOf, expectCancelledReadThenReuse, recordingPoller, resultOf, settle, waitFor, withRecordingPoller, type Recorded } from './helpers.js';

const ports = (process.env.FDLOOP_IOCP_SERIAL ?? '').split(',').filter((p) => p.length > 0);
const [COM_A, COM_B] = ports as [string, string];
const MAXDWORD = 0xffffffff;

function errnoName(value: number | undefined): string {
  return value === undefined || value >= 0 ? String(value) : getSystemErrorName(value);
}

/** Both ends open (COM_A, COM_B); closes them after `body`, whatever happens. */
async function withPair(body: (a: number, b: number) => Promise<void>, options: sys.SerialOptions = {}): Promise<void> {
  const a = sys.openSerial(COM_A, options);
  let b: number | undefined;
  try {
    b = sys.openSerial(COM_B, options);
    await body(a, b);
  } finally {
    sys.closeHandle(a);
    if (b !== undefined) sys.closeHandle(b);
  }
}

/** A recording poller and both ends open for `body`; closes the ends after it, then the poller. */
async function withPollerAndPair(
  body: (poller: IocpPoller, rec: Recorded, a: number, b: number) => Promise<void>,
  options: sys.SerialOptions = {},
): Promise<void> {
  await withRecordingPoller((poller, rec) => withPair((a, b) => body(poller, rec, a, b), options));
}

describe.skipIf(ports.length < 2)(`serial ports (${ports.join(' <-> ') || 'set FDLOOP_IOCP_SERIAL=COMx,COMy'}: a socat pty pair under Wine)`, () => {
  it('opens a port with the line settings and COMMTIMEOUTS it documents', () => {
    const h = sys.openSerial(COM_A, { baudRate: 115200 });
    try {
      expect(sys.getCommState(h)).toEqual({ baudRate: 115200, byteSize: 8, parity: 0, stopBits: 0 });
      expect(sys.getCommTimeouts(h)).toEqual({ readInterval: 1, readMultiplier: 0, readConstant: 0, writeMultiplier: 0, writeConstant: 0 });
      sys.setCommTimeouts(h, { readInterval: 20, readMultiplier: 0, readConstant: 500, writeMultiplier: 0, writeConstant: 0 });
      expect(sys.getCommTimeouts(h)).toMatchObject({ readInterval: 20, readConstant: 500 });
    } finally {
      sys.closeHandle(h);
    }
  });

  it(`an overlapped write on ${COM_A} arrives as an overlapped read on ${COM_B}, and back; a read completes with what arrived`, async () => {
    await withPollerAndPair(async (poller, rec, a, b) => {
      const inB = Buffer.alloc(64);
      poller.read(b, inB, 1);
      await settle();
      expect(resultOf(rec, 1)).toBeUndefined(); // nothing sent yet: pending
      poller.write(a, Buffer.from('hello'), 2);
      await waitFor(() => resultOf(rec, 1) !== undefined && resultOf(rec, 2) !== undefined, 'read and write');
      expect(resultOf(rec, 2)).toBe(5);
      // 5 of 64: the read did not wait to fill its buffer (ReadIntervalTimeout).
      expect(resultOf(rec, 1)).toBe(5);
      expect(inB.toString('utf8', 0, 5)).toBe('hello');

      const inA = Buffer.alloc(64);
      poller.read(a, inA, 3);
      poller.write(b, Buffer.from('world!'), 4);
      await waitFor(() => resultOf(rec, 3) !== undefined && resultOf(rec, 4) !== undefined, 'the reverse direction');
      expect(resultOf(rec, 4)).toBe(6);
      expect(inA.toString('utf8', 0, resultOf(rec, 3))).toBe('world!');
      expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });
    });
  });

  it('moves 256 KiB of random bytes unchanged (raw 8-bit line, no XON/XOFF), reading until all arrived', async () => {
    await withPollerAndPair(async (poller, rec, a, b) => {
      const data = randomBytes(256 * 1024);
      const received = Buffer.alloc(data.length);
      poller.write(a, data, 1);
      let got = 0;
      let token = 100;
      while (got < data.length) {
        const t = token++;
        poller.read(b, received.subarray(got, Math.min(got + 65536, data.length)), t);
        const n = await completionOf(rec, t, `read ${t} at byte ${got}`);
        expect(n).toBeGreaterThan(0);
        got += n;
      }
      expect(await completionOf(rec, 1, 'the write')).toBe(data.length);
      expect(received.equals(data)).toBe(true);
    });
  });

  it('full duplex: reads pending on both ports complete with what the other side writes', async () => {
    await withPollerAndPair(async (poller, rec, a, b) => {
      const inA = Buffer.alloc(32);
      const inB = Buffer.alloc(32);
      poller.read(a, inA, 1);
      poller.read(b, inB, 2);
      await settle();
      expect(poller.stats()).toMatchObject({ pending: 2, io: 2 });
      poller.write(a, Buffer.from('from A'), 3);
      poller.write(b, Buffer.from('from B'), 4);
      await waitFor(() => [1, 2, 3, 4].every((t) => resultOf(rec, t) !== undefined), 'both reads and writes');
      expect(inB.toString('utf8', 0, resultOf(rec, 2))).toBe('from A');
      expect(inA.toString('utf8', 0, resultOf(rec, 1))).toBe('from B');
      expect([resultOf(rec, 3), resultOf(rec, 4)]).toEqual([6, 6]);
    });
  });

  it('a write blocked by a full line, cancelled, reports exactly the bytes that went out, and those arrive intact', async () => {
    await withPollerAndPair(async (poller, rec, a, b) => {
      // Nobody reads COM_B, so the ptys' and socat's buffers fill and the write stays pending.
      const data = randomBytes(8 * 1024 * 1024);
      poller.write(a, data, 1);
      await settle();
      expect(resultOf(rec, 1)).toBeUndefined();
      expect(poller.cancel(1)).toBe(true);
      const sent = await completionOf(rec, 1, 'the cancelled write');
      // Some bytes went out (the buffers took them), not all: the count is what the kernel accepted.
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThan(data.length);
      const received = Buffer.alloc(data.length);
      let got = 0;
      let token = 100;
      while (got < sent) {
        const t = token++;
        poller.read(b, received.subarray(got), t);
        got += await completionOf(rec, t, `read ${t} at byte ${got} of ${sent}`);
      }
      expect(got).toBe(sent);
      expect(received.subarray(0, sent).equals(data.subarray(0, sent))).toBe(true);
      // Nothing beyond what was reported: a further read sees no byte (its timeout ends it with 0).
      sys.setCommTimeouts(b, { readInterval: 1, readMultiplier: 0, readConstant: 300, writeMultiplier: 0, writeConstant: 0 });
      poller.read(b, Buffer.alloc(16), 99);
      expect(await completionOf(rec, 99, 'the final read')).toBe(0);
    });
  });

  it('a read with readTimeout that receives nothing completes with 0 bytes (a timeout, not end of file)', async () => {
    await withPollerAndPair(
      async (poller, rec, _a, b) => {
        poller.read(b, Buffer.alloc(16), 1);
        expect(await completionOf(rec, 1, 'the timed-out read')).toBe(0);
      },
      { readTimeout: 200 },
    );
  });

  it('cancel during a pending read delivers ECANCELED exactly once, and the port stays usable', async () => {
    await withPollerAndPair((poller, rec, a, b) => expectCancelledReadThenReuse(poller, rec, b, a, [1, 2, 3]));
  });

  it('a cancelled read that had already received bytes reports them instead of ECANCELED (Wine 8 leaves such a read pending: MAXDWORD read timeouts)', async () => {
    // ReadIntervalTimeout = ReadTotalTimeoutMultiplier = MAXDWORD: on Windows the read completes at the first
    // byte; Wine 8 copies the bytes into the buffer but keeps the read pending until it is full. Either way the
    // bytes must reach the caller: as a completion, or as the byte count of the cancelled read.
    await withPollerAndPair(async (poller, rec, a, b) => {
      sys.setCommTimeouts(b, { readInterval: MAXDWORD, readMultiplier: MAXDWORD, readConstant: 0xfffffffe, writeMultiplier: 0, writeConstant: 0 });
      const buf = Buffer.alloc(64);
      poller.read(b, buf, 1);
      poller.write(a, Buffer.from('kept!'), 2);
      await waitFor(() => resultOf(rec, 1) !== undefined || buf.toString('utf8', 0, 5) === 'kept!', 'the bytes in the buffer');
      poller.cancel(1);
      expect(await completionOf(rec, 1, 'the read')).toBe(5);
      expect(buf.toString('utf8', 0, 5)).toBe('kept!');
      expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });
    });
  });

  it('closing the port with a read pending completes the read once with ECANCELED and reclaims it', async () => {
    const { poller, rec } = recordingPoller();
    const a = sys.openSerial(COM_A);
    try {
      poller.read(a, Buffer.alloc(16), 1);
      await settle();
      expect(poller.stats()).toMatchObject({ pending: 1, io: 1 });
      sys.closeHandle(a);
      // Windows: ERROR_OPERATION_ABORTED; Wine 8: ERROR_HANDLES_CLOSED. The one table maps both to ECANCELED.
      expect(errnoName(await completionOf(rec, 1, 'the read of the closed port'))).toBe('ECANCELED');
      await settle();
      expect(rec.pairs).toHaveLength(1);
      expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });
    } finally {
      poller.close();
    }
  });

  it("the poller's close() with a serial read pending reclaims its OVERLAPPED and delivers nothing afterwards", async () => {
    const { poller, rec } = recordingPoller();
    await withPair(async (_a, b) => {
      poller.read(b, Buffer.alloc(16), 1);
      await settle();
      expect(poller.stats()).toMatchObject({ pending: 1, io: 1 });
      poller.close();
      expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });
    });
    await settle();
    expect(rec.pairs).toEqual([]);
  });

  it('bad names and handles get typed errors: ENOENT for a missing port, ERR_FDLOOP_INVALID_ARGUMENT, no COMM state on a closed handle or a pipe', () => {
    expect(() => sys.openSerial('COM77')).toThrowError(expect.objectContaining({ code: 'ENOENT', syscall: 'CreateFileW', path: '\\\\.\\COM77' }));
    expect(() => sys.openSerial('\\\\.\\COM78')).toThrowError(expect.objectContaining({ code: 'ENOENT', syscall: 'CreateFileW' }));
    expect(() => sys.openSerial('ttyS0')).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    expect(() => sys.openSerial(COM_A, { baudRate: 0 })).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    expect(() => sys.openSerial(COM_A, { readInterval: MAXDWORD })).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    const h = sys.openSerial(COM_A);
    try {
      expect(() => sys.setCommTimeouts(h, { readInterval: -1, readMultiplier: 0, readConstant: 0, writeMultiplier: 0, writeConstant: 0 })).toThrowError(
        expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }),
      );
    } finally {
      sys.closeHandle(h);
    }
    expect(() => sys.getCommState(h)).toThrowError(expect.objectContaining({ code: 'EBADF', syscall: 'GetCommState' }));
    const [r, w] = sys.pipe();
    try {
      // A pipe is no communications device: a typed error (its code differs between Windows and Wine).
      expect(() => sys.getCommState(r)).toThrowError(expect.objectContaining({ syscall: 'GetCommState', code: expect.stringMatching(/^E[A-Z]+$/) }));
    } finally {
      sys.closeHandle(r);
      sys.closeHandle(w);
    }
  });

  it.skipIf(process.env.FDLOOP_IOCP_SERIAL_KIND !== 'wine-pty')('modem lines are not emulated: on a Wine pty GetCommModemStatus fails with ENOTSUP (a pty has no modem lines)', () => {
    const h = sys.openSerial(COM_A);
    try {
      expect(() => sys.getModemStatus(h)).toThrowError(expect.objectContaining({ code: 'ENOTSUP', syscall: 'GetCommModemStatus' }));
    } finally {
      sys.closeHandle(h);
    }
  });
});

// ownFd() of @fdloop/core driving a library that owns its socket, on real socketpairs: write interest that follows
// the library's queue (a megabyte through a 200 kB socket buffer), the misc tick, moving to a new socket (a new
// number, and the same number reused), hang-up, keep-alive rules, and teardown that never calls the library
// after close. The "library" is a small JavaScript protocol object that opens, owns and closes its own socket:
// the shape of libmosquitto's non-threaded API, without a C dependency (the libmosquitto case itself is tested
// in examples/mosquitto against a real broker).
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Interest, InvalidArgumentError, createRuntime, ownFd, type OwnedFdLibrary, type Runtime } from '@fdloop/core';
import { epoll, sys } from '../src/index.js';

const runtimes: Runtime[] = [];
const openFds = new Set<number>();

function runtime(onError?: (e: unknown) => void): Runtime {
  const rt = createRuntime({ backend: epoll(), ...(onError ? { onError } : {}) });
  runtimes.push(rt);
  return rt;
}

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close().catch(() => {});
  for (const fd of openFds) {
    try {
      sys.close(fd);
    } catch {
      // closed by the test
    }
  }
  openFds.clear();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
async function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/**
 * A tiny library that owns one end of a socketpair: it queues output and flushes it when writable, collects
 * input, records every call made into it, and refuses (records a violation) any call after destroy().
 */
class OwningLibrary implements OwnedFdLibrary {
  sock = -1;
  peer = -1;
  out: Buffer[] = [];
  received: Buffer[] = [];
  calls: string[] = [];
  violations: string[] = [];
  destroyed = false;
  onRead: (() => void) | undefined;
  onMisc: (() => void) | undefined;
  stayActive = false;

  connect(): void {
    const [a, b] = sys.socketpair();
    openFds.add(a);
    openFds.add(b);
    this.sock = a;
    this.peer = b;
  }
  disconnect(): void {
    if (this.sock >= 0) {
      openFds.delete(this.sock);
      sys.close(this.sock);
    }
    this.sock = -1;
  }
  private check(name: string): void {
    this.calls.push(name);
    if (this.destroyed) this.violations.push(`${name} after destroy`);
  }
  fd(): number {
    this.check('fd');
    return this.sock;
  }
  wantWrite(): boolean {
    this.check('wantWrite');
    return this.out.length > 0;
  }
  read(): void {
    this.check('read');
    const buf = Buffer.alloc(65536);
    while (this.sock >= 0) {
      const n = sys.read(this.sock, buf);
      if (n === sys.WOULD_BLOCK) break;
      if (n === 0) {
        this.disconnect();
        break;
      }
      this.received.push(Buffer.from(buf.subarray(0, n)));
    }
    this.onRead?.();
  }
  write(): void {
    this.check('write');
    while (this.out.length > 0) {
      const head = this.out[0] as Buffer;
      const n = sys.write(this.sock, head);
      if (n === sys.WOULD_BLOCK) return;
      if (n < head.length) {
        this.out[0] = head.subarray(n);
        return;
      }
      this.out.shift();
    }
  }
  misc(): void {
    this.check('misc');
    this.onMisc?.();
  }
  active(): boolean {
    return this.stayActive;
  }
  send(data: Buffer): void {
    this.out.push(data);
  }
  destroy(): void {
    this.disconnect();
    this.destroyed = true;
  }
}

/** Drain whatever is readable on `fd` into `into`; returns the bytes read. */
function drain(fd: number, into: Buffer[]): number {
  const buf = Buffer.alloc(65536);
  let total = 0;
  for (;;) {
    const n = sys.read(fd, buf);
    if (n === sys.WOULD_BLOCK || n === 0) return total;
    into.push(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
}

describe('ownFd: interest follows the library', () => {
  it('watches READABLE only, adds WRITABLE while output is queued, and drops it when flushed', async () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    lib.connect();
    const owned = ownFd(rt, lib);
    expect(owned.fd).toBe(lib.sock);
    expect(owned.interest).toBe(Interest.READABLE);

    // A megabyte cannot fit a socketpair buffer: the library must be driven by WRITABLE events to flush it.
    const payload = Buffer.alloc(1 << 20, 7);
    lib.send(payload);
    owned.sync();
    expect(owned.interest).toBe(Interest.READABLE | Interest.WRITABLE);

    const got: Buffer[] = [];
    let gotBytes = 0;
    const reader = rt.watch(lib.peer, Interest.READABLE, () => {
      gotBytes += drain(lib.peer, got);
      if (gotBytes === payload.length) reader.close();
    });
    await waitUntil(() => gotBytes === payload.length, 'the whole megabyte at the peer');
    expect(Buffer.concat(got).equals(payload)).toBe(true);
    expect(lib.calls.filter((c) => c === 'write').length).toBeGreaterThan(1);
    await waitUntil(() => owned.interest === Interest.READABLE, 'WRITABLE dropped after the flush');
    expect(lib.out).toEqual([]);

    // Input reaches the library's read().
    sys.write(lib.peer, Buffer.from('hello'));
    await waitUntil(() => lib.received.length > 0, 'input');
    expect(Buffer.concat(lib.received).toString()).toBe('hello');
    owned.close();
  });

  it('drops the watch when the library closes its socket at hang-up, and run() finishes', async () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    lib.connect();
    const owned = ownFd(rt, lib);
    const fd = lib.sock;
    await rt.run(() => {
      sys.close(lib.peer);
      openFds.delete(lib.peer);
    });
    expect(lib.sock).toBe(-1);
    expect(owned.fd).toBe(-1);
    expect(rt.watcherCount).toBe(0);
    expect(lib.calls).toContain('read');
    expect(fd).toBeGreaterThanOrEqual(0);
    owned.close();
  });
});

describe('ownFd: misc tick and reconnects', () => {
  it('calls misc on the runtime and follows the library to a new socket opened there', async () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    lib.connect();
    const first = lib.sock;
    const owned = ownFd(rt, lib, { miscInterval: 5 });
    let ticks = 0;
    lib.onMisc = () => {
      ticks++;
      // Reconnect on the second tick, keeping the old socket open so the new one surely gets another number.
      if (ticks === 2) {
        const old = lib.sock;
        lib.connect();
        openFds.delete(old);
        sys.close(old);
      }
    };
    await waitUntil(() => ticks >= 2, 'two misc ticks');
    expect(lib.sock).not.toBe(first);
    expect(owned.fd).toBe(lib.sock);
    sys.write(lib.peer, Buffer.from('on the new socket'));
    await waitUntil(() => lib.received.length > 0, 'input on the new socket');
    expect(Buffer.concat(lib.received).toString()).toBe('on the new socket');
    owned.close();
  });

  it('reattach() follows a reconnect that reused the same descriptor number', async () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    lib.connect();
    const owned = ownFd(rt, lib);
    const number = lib.sock;
    // Close, then open again: the lowest free number is the one just closed.
    openFds.delete(lib.sock);
    sys.close(lib.sock);
    openFds.delete(lib.peer);
    sys.close(lib.peer);
    lib.connect();
    expect(lib.sock).toBe(number);
    owned.reattach();
    expect(owned.fd).toBe(number);
    sys.write(lib.peer, Buffer.from('same number, new socket'));
    await waitUntil(() => lib.received.length > 0, 'input on the reused number');
    expect(Buffer.concat(lib.received).toString()).toBe('same number, new socket');
    owned.close();
  });

  it('sync() recovers by itself when the interest changes on a reused number (ENOENT from the kernel)', async () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    lib.connect();
    const owned = ownFd(rt, lib);
    const number = lib.sock;
    openFds.delete(lib.sock);
    sys.close(lib.sock);
    openFds.delete(lib.peer);
    sys.close(lib.peer);
    lib.connect();
    expect(lib.sock).toBe(number);
    lib.send(Buffer.from('queued after the reconnect'));
    owned.sync(); // modify(READABLE|WRITABLE) fails with ENOENT: the OwnedFd watches the new socket instead
    expect(owned.interest).toBe(Interest.READABLE | Interest.WRITABLE);
    const got: Buffer[] = [];
    const reader = rt.watch(lib.peer, Interest.READABLE, () => {
      drain(lib.peer, got);
    });
    await waitUntil(() => Buffer.concat(got).toString() === 'queued after the reconnect', 'the queued output');
    reader.close();
    owned.close();
  });

  it('keeps run() alive while detached only if the library says it is active', async () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    lib.stayActive = true;
    let ticks = 0;
    lib.onMisc = () => {
      ticks++;
      if (ticks === 3) lib.stayActive = false; // gives up "reconnecting": run() may finish
    };
    const owned = ownFd(rt, lib, { miscInterval: 2 });
    expect(owned.fd).toBe(-1);
    await rt.run();
    expect(ticks).toBe(3);
    owned.close();
  });

  it('an unref()ed OwnedFd does not hold run() although its socket is watched', async () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    lib.connect();
    const owned = ownFd(rt, lib, { ref: false });
    expect(owned.hasRef()).toBe(false);
    await rt.run();
    expect(owned.fd).toBe(lib.sock);
    owned.ref();
    expect(rt.pendingCount).toBe(1);
    owned.unref();
    expect(rt.pendingCount).toBe(0);
    owned.close();
  });
});

describe('ownFd: teardown', () => {
  it('never calls the library after close(), even with input and a tick due in the same turn', async () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    lib.connect();
    const owned = ownFd(rt, lib, { miscInterval: 1 });
    lib.onRead = () => {
      // A callback of the library destroys the client: close the OwnedFd first, then the library.
      owned.close();
      lib.destroy();
    };
    sys.write(lib.peer, Buffer.from('x'));
    await waitUntil(() => lib.destroyed, 'the destroy');
    expect(owned.closed).toBe(true);
    expect(rt.watcherCount).toBe(0);
    await sleep(20); // give a stale tick or event every chance to arrive
    owned.sync();
    owned.reattach();
    expect(lib.violations).toEqual([]);
  });

  it('runtime close ends the OwnedFd too', async () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    lib.connect();
    const owned = ownFd(rt, lib, { miscInterval: 1 });
    await rt.close();
    expect(owned.closed).toBe(true);
    const calls = lib.calls.length;
    owned.sync();
    owned.close();
    expect(lib.calls.length).toBe(calls);
  });

  it('errors thrown by the library go to onError and the watch is still brought up to date', async () => {
    const errors: unknown[] = [];
    const rt = runtime((e) => errors.push(e));
    const lib = new OwningLibrary();
    lib.connect();
    const owned = ownFd(rt, lib);
    lib.onRead = () => {
      lib.disconnect();
      throw new Error('protocol error');
    };
    sys.write(lib.peer, Buffer.from('x'));
    await waitUntil(() => errors.length > 0, 'the error');
    expect((errors[0] as Error).message).toBe('protocol error');
    expect(owned.fd).toBe(-1);
    owned.close();
  });
});

describe('ownFd: bad input', () => {
  it('refuses malformed libraries and options with InvalidArgumentError', () => {
    const rt = runtime();
    const lib = new OwningLibrary();
    expect(() => ownFd(rt, null as unknown as OwnedFdLibrary)).toThrow(InvalidArgumentError);
    expect(() => ownFd(rt, { fd: () => -1 } as unknown as OwnedFdLibrary)).toThrow(/library.wantWrite/);
    expect(() => ownFd(rt, lib, { miscInterval: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => ownFd(rt, lib, { miscInterval: 0 })).toThrow(/miscInterval/);
    const bad = { fd: () => 1.5, wantWrite: () => false, read() {}, write() {} };
    expect(() => ownFd(rt, bad)).toThrow(/library.fd\(\)/);
    // Nothing was left behind by the failed constructions.
    expect(rt.watcherCount).toBe(0);
    expect(rt.pendingCount).toBe(0);
  });

  it('surfaces EBADF when the library reports a descriptor that is not open', () => {
    const rt = runtime();
    const [a, b] = sys.socketpair();
    sys.close(a);
    sys.close(b);
    const lib = { fd: () => a, wantWrite: () => false, read() {}, write() {} };
    expect(() => ownFd(rt, lib)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'epoll_ctl' }));
    expect(rt.watcherCount).toBe(0);
  });
});

// The backend conformance suite of @fdloop/core, run against the real epoll backend on real descriptors: pipes
// for the general tests, and a TCP loopback connection receiving urgent (MSG_OOB) data for the PRIORITY test.
import { describe, it } from 'vitest';
import { runConformanceSuite } from '@fdloop/core/testing';
import { epoll, sys } from '../src/index.js';

/** Sleep the thread for about `ms` milliseconds (the fixture functions are synchronous). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Retry `attempt` until it returns something other than WOULD_BLOCK, for at most about two seconds. */
function retry(what: string, attempt: () => number): number {
  for (let i = 0; i < 2000; i++) {
    const result = attempt();
    if (result !== sys.WOULD_BLOCK) return result;
    pause(1);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A connected TCP pair on 127.0.0.1: `fd` is the accepted (server) side, which reports PRIORITY once `trigger()`
 * sends it one byte of urgent data from the client side.
 */
function priorityPair(): { fd: number; trigger(): void; close(): void } {
  const listener = sys.tcpListen('127.0.0.1', 0);
  const opened: number[] = [listener.fd];
  try {
    const client = sys.tcpConnect('127.0.0.1', listener.port);
    opened.push(client);
    const server = retry('accept', () => sys.tcpAccept(listener.fd));
    opened.push(server);
    return {
      fd: server,
      trigger() {
        // A non-blocking connect may still be completing: send reports WOULD_BLOCK (or ENOTCONN) until it is.
        retry('send MSG_OOB', () => {
          try {
            return sys.send(client, Buffer.from('!'), sys.MSG_OOB);
          } catch (err) {
            if ((err as { code?: string }).code === 'ENOTCONN') return sys.WOULD_BLOCK;
            throw err;
          }
        });
      },
      close() {
        for (const fd of opened.splice(0)) sys.close(fd);
      },
    };
  } catch (err) {
    for (const fd of opened) sys.close(fd);
    throw err;
  }
}

runConformanceSuite({
  backend: () => epoll(),
  fixture: {
    pipe: () => sys.pipe(),
    read: (fd, buffer) => sys.read(fd, buffer),
    write: (fd, data) => sys.write(fd, data),
    close: (fd) => sys.close(fd),
    priorityPair,
  },
  describe,
  it,
});

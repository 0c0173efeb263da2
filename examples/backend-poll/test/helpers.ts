// Shared test helpers: descriptors come from @fdloop/backend-epoll's `sys` (a test-only dependency; the backend
// itself does not depend on it), waiting, and thread/descriptor accounting through /proc.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { sys } from '@fdloop/backend-epoll';

export { sys };
// Waiting helpers from the conformance kit (`@fdloop/core/testing`).
export { settle, waitFor } from '@fdloop/core/testing';

/** Sleep the thread for about `ms` milliseconds (the conformance fixture functions are synchronous). */
export function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Retry `attempt` until it returns something other than WOULD_BLOCK, for at most about two seconds. */
export function retry(what: string, attempt: () => number): number {
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
export function priorityPair(): { fd: number; trigger(): void; close(): void } {
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

/** How many threads of this process carry `name` (Linux: /proc/self/task/<tid>/comm). */
export function threadsNamed(name: string): number {
  let count = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name) count += 1;
    } catch {
      // The thread ended while we looked.
    }
  }
  return count;
}

/** How many descriptors this process has open. */
export function openFdCount(): number {
  let count = 0;
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      readlinkSync(`/proc/self/fd/${entry}`);
      count += 1;
    } catch {
      // The directory's own descriptor, gone by now.
    }
  }
  return count;
}

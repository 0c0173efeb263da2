// The backend conformance suite of @fdloop/core, run against the real IOCP backend on real sockets: a connected
// TCP pair on 127.0.0.1 stands in for a pipe (AFD readiness is for sockets only; Windows pipes go through the
// completion layer), and TCP urgent data (MSG_OOB) drives the PRIORITY test.
import { describe, it } from 'vitest';
import { runConformanceSuite } from '@fdloop/core/testing';
import { iocp, sys } from '../src/index.js';

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function retry(what: string, attempt: () => number): number {
  for (let i = 0; i < 5000; i++) {
    const result = attempt();
    if (result !== sys.WOULD_BLOCK) return result;
    pause(1);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function priorityPair(): { fd: number; trigger(): void; close(): void } {
  const [server, client] = sys.socketPair();
  return {
    fd: server,
    trigger() {
      retry('send MSG_OOB', () => sys.send(client, Buffer.from('!'), sys.msgOob()));
    },
    close() {
      sys.closeSocket(server);
      sys.closeSocket(client);
    },
  };
}

runConformanceSuite({
  backend: () => iocp(),
  fixture: {
    pipe: () => sys.socketPair(),
    read: (fd, buffer) => sys.recv(fd, buffer),
    write: (fd, data) => sys.send(fd, data),
    close: (fd) => sys.closeSocket(fd),
    priorityPair,
  },
  describe,
  it,
  timeoutMs: 10_000,
});

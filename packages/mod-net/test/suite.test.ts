// The net conformance suite of @fdloop/mod-net (src/testing.ts) on the epoll backend: real sockets on 127.0.0.1,
// ::1 and unix paths (every feature flag at its default: unix, reusePort and keep-alive timing are all here).
import { describe, it } from 'vitest';
import { epoll, sys } from '@fdloop/backend-epoll';
import { runNetSuite, type NotASocket } from '../src/testing.js';

/** The read end of a pipe: what adopt() must refuse with ENOTSOCK. */
function pipeEnd(): NotASocket {
  const [r, w] = sys.pipe();
  return { fd: r, close: () => [r, w].forEach((fd) => sys.close(fd)) };
}

runNetSuite({ name: 'net: @fdloop/mod-net on epoll', backend: () => epoll(), notASocket: pipeEnd, describe, it });

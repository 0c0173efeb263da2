// The backend conformance suite of @fdloop/core, run against the poll backend on real descriptors: pipes for the
// general tests, and a TCP loopback connection receiving urgent (MSG_OOB) data for the PRIORITY test. The
// descriptors come from @fdloop/backend-epoll's `sys` helpers (a dev dependency used by the tests only).
import { describe, it } from 'vitest';
import { runConformanceSuite } from '@fdloop/core/testing';
import { poll } from '../src/index.js';
import { priorityPair, sys } from './helpers.js';

runConformanceSuite({
  backend: () => poll(),
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

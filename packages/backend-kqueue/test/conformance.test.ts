// The backend conformance suite of @fdloop/core, run against the kqueue backend's real poller code compiled
// against the Linux kqueue emulation (there is no kqueue on this machine), on real pipes and, for PRIORITY, a TCP
// loopback connection receiving urgent (MSG_OOB) data reported through the emulated EVFILT_EXCEPT/NOTE_OOB.
import { describe, it } from 'vitest';
import { runConformanceSuite } from '@fdloop/core/testing';
import { emulatedKqueue, priorityPair, sys } from './emulated.js';

runConformanceSuite({
  name: 'conformance: kqueue (emulated kqueue on Linux)',
  backend: () => emulatedKqueue(),
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

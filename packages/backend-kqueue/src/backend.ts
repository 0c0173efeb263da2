/**
 * Building the kqueue {@link Backend} from a loaded native binding. Internal: `index.ts` passes the published
 * addon; this repository's tests pass the one compiled against the Linux kqueue emulation.
 *
 * @module
 */

import { NO_CAPABILITIES, type Backend, type Capabilities, type NotifierRemote, type Poller, type PollerOptions } from '@fdloop/core';
import { createPosixNet, validateInteger } from '@fdloop/core/backend-kit';
import type { NativeBinding } from './native.js';
import { KqueuePoller, MAX_ROUNDS } from './poller.js';
import { triggerRemote } from './sources.js';

/** Options of the kqueue backend; see `KqueueOptions` in the package's entry point. */
export interface BackendOptions {
  /** Batches per wake-up, 1 to 1024. Defaults to `64`. */
  readonly maxRounds?: number;
}

/** The default of {@link BackendOptions.maxRounds}. */
export const DEFAULT_MAX_ROUNDS = 64;

/** The capabilities of a kqueue backend whose binary does (`priority`) or does not report out-of-band data. */
export function kqueueCapabilities(priority: boolean): Capabilities {
  return Object.freeze({
    ...NO_CAPABILITIES,
    edge: true,
    oneshot: true,
    priority,
    readHangup: true,
    timer: true,
    signal: true,
    notifier: true,
    pathWatch: true,
    processExit: true,
  });
}

/** The backend over `binding`, after checking the options. */
export function createKqueueBackend(binding: NativeBinding, options?: BackendOptions): Backend {
  const maxRounds = validateInteger('maxRounds', options?.maxRounds ?? DEFAULT_MAX_ROUNDS, 1, MAX_ROUNDS);
  const capabilities = kqueueCapabilities(binding.priority);
  return Object.freeze({
    name: 'kqueue',
    // The socket system calls of @fdloop/mod-net and @fdloop/mod-http (native-build's `posix` component, shared
    // with epoll), passed through.
    net: createPosixNet(binding, '@fdloop/backend-kqueue'),
    capabilities,
    createPoller(pollerOptions: PollerOptions): Poller {
      return new KqueuePoller(binding, pollerOptions, maxRounds);
    },
    notifyRemote(remote: NotifierRemote, count: number): void {
      triggerRemote(binding, remote, count);
    },
  });
}

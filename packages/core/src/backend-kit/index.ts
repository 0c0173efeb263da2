/**
 * `@fdloop/core/backend-kit`: the TypeScript every native backend shares, for fdloop's own backends and for a
 * user's. A backend whose poller is a native addon object configures {@link NativePoller} instead of writing its
 * own wrapper (argument checks, failure codes to typed errors, "the poller is closed"); a POSIX backend built on
 * `@fdloop/native-build`'s `posix` component gets its `sys` helpers from {@link createPosixSys} and its
 * `Backend.net` from {@link createPosixNet}. The shapes of the native objects are here too
 * ({@link NativePollerHandle}, {@link NativePosixSys}, {@link NativePosixSock}).
 *
 * @example
 * ```ts
 * import { NO_CAPABILITIES, type Backend } from '@fdloop/core';
 * import { NativePoller, createPosixNet, createPosixSys } from '@fdloop/core/backend-kit';
 * import { loadAddon } from '@fdloop/native-build';
 *
 * const binding = loadAddon<MyBinding>({ name: '@me/backend', addon: 'my.node', root: new URL('../', import.meta.url) });
 * export const sys = createPosixSys(() => binding.sys, { backend: 'mine' });
 * export const backend: Backend = {
 *   name: 'mine',
 *   capabilities: NO_CAPABILITIES,
 *   net: createPosixNet(binding, '@me/backend'),
 *   createPoller: (options) =>
 *     new NativePoller(options, { ctlSyscall: 'mine_ctl', create: (size, onEvents) => new binding.Poller(size, onEvents) }),
 * };
 * ```
 *
 * @packageDocumentation
 */

export {
  MAX_BATCH_SIZE,
  NativePoller,
  errnoCtlError,
  validateInteger,
  validateInterestBits,
  validateToken,
  type NativePollerConfig,
  type NativePollerHandle,
} from './poller.js';
export {
  PTY_PACKET,
  createPosixSys,
  type EventfdOptions,
  type NativePosixConstants,
  type NativePosixFeatures,
  type NativePosixSys,
  type PosixSys,
  type PosixSysOptions,
  type Pty,
  type PtyPacketFlags,
  type SocketPairType,
  type TcpListener,
} from './posix-sys.js';
export { createPosixNet, type NativePosixNetBinding, type NativePosixSock } from './posix-net.js';

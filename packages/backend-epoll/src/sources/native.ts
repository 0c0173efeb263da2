/**
 * The `sources` part of `fdloop_epoll.node` (native/sources): timerfd, signalfd, inotify, pidfd, fanotify and GPIO
 * calls. Every function returns a non-negative result or `-errno`. Internal.
 *
 * @module
 */

import { loadNative } from '../native.js';

/** A descriptor adopted by native code: closed by `close()`, by garbage collection, or at environment teardown. */
export interface NativeOwnedFd {
  /** The descriptor, or -1 after close. */
  readonly fd: number;
  /** Close it (and release the signal block for signalfds). Returns 0 or `-errno`. Idempotent. */
  close(): number;
}

/** Kernel constants from the headers the addon was compiled against. */
export interface NativeSourceConstants {
  readonly [name: string]: number;
}

/** The GPIO ioctl entry point and struct layout. */
export interface NativeGpio {
  /** `which`: 0 chip info, 1 line info, 2 line request, 3 set config, 4 get values, 5 set values. */
  ioctl(fd: number, which: number, buffer: Uint8Array): number;
  readonly layout: Readonly<Record<string, number>>;
}

/** A relay thread polling one attribute file directly (native/sources/attribute_relay.h). */
export interface NativeAttributeRelay {
  /** The eventfd to watch for READABLE; -1 after close. */
  readonly fd: number;
  /** Acknowledge one change (after re-reading the file): the relay polls the file again. */
  ack(): void;
  /** Stop and join the thread, close the eventfds. Idempotent. */
  close(): void;
}

/** `binding.sources`. */
export interface NativeSources {
  readonly OwnedFd: new (fd: number, signo?: number) => NativeOwnedFd;
  timerfdCreate(clock: number): number;
  timerfdSet(fd: number, absolute: boolean, valueMs: number, intervalMs: number): number;
  timerfdRead(fd: number): number;
  signalfdOpen(signo: number): number;
  inotifyInit(): number;
  inotifyAdd(fd: number, path: string, mask: number): number;
  inotifyRm(fd: number, wd: number): number;
  pidfdOpen(pid: number): number;
  pidfdStatus(fd: number, out: Int32Array): number;
  fanotifyInit(flags: number, eventFlags: number): number;
  fanotifyMark(fd: number, flags: number, mask: number, path: string): number;
  fanotifyHandlePath(mountFd: number, handle: Uint8Array, offset: number, length: number): string | number;
  readonly gpio: NativeGpio;
  readonly AttributeRelay: new (attrFd: number) => NativeAttributeRelay;
  readonly constants: NativeSourceConstants;
}

/** The native source functions of this thread's addon instance. */
export function nativeSources(): NativeSources {
  return (loadNative() as unknown as { sources: NativeSources }).sources;
}

/** A kernel constant by name; throws if the addon does not define it (a build mismatch). */
export function k(name: string): number {
  const value = nativeSources().constants[name];
  if (value === undefined) throw new Error(`fdloop_epoll.node lacks the constant ${name}; rebuild the addon`);
  return value;
}

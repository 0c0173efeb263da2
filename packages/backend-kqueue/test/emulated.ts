// Shared test helpers. Linux has no kqueue, so every test here runs the backend's real poller code compiled
// against the kqueue emulation in test/emulation (build/emulated, built by test/global-setup.ts), and names say
// "emulated". The descriptors are real: pipes, socketpairs and TCP on 127.0.0.1, created with this package's `sys`
// helpers over the POSIX code it shares with @fdloop/backend-epoll.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Backend } from '@fdloop/core';
import { createKqueueBackend, type BackendOptions } from '../src/backend.js';
import type { NativeBinding } from '../src/native.js';
import { createSys } from '../src/sys.js';

/** The emulated build's file. */
export const EMULATED_ADDON = fileURLToPath(new URL('../build/emulated/Release/fdloop_kqueue.node', import.meta.url));

/** The emulation's own check program. */
export const EMULATION_SELFTEST = fileURLToPath(new URL('../build/emulated/Release/kqueue_emu_selftest', import.meta.url));

/** The emulated addon (compiled with FDLOOP_FORCE_PORTABLE: its `sys` takes the macOS/FreeBSD code paths). */
export const emulatedBinding = createRequire(import.meta.url)(EMULATED_ADDON) as NativeBinding;
if (emulatedBinding.emulated !== true) throw new Error(`${EMULATED_ADDON} is not the emulated build`);

/** The kqueue backend over the emulated addon. */
export function emulatedKqueue(options?: BackendOptions): Backend {
  return createKqueueBackend(emulatedBinding, options);
}

/** The package's own `sys` helpers (src/sys.ts) over the emulated addon. */
export const emulatedSys = createSys(() => emulatedBinding.sys);

/** What read/write return when the call would block. */
export const WOULD_BLOCK = emulatedSys.WOULD_BLOCK;

/** Real descriptors through the package's `sys` helpers, with shortcuts for loopback TCP. */
export const sys = {
  MSG_OOB: emulatedSys.MSG_OOB,
  pipe: (): [number, number] => emulatedSys.pipe(),
  socketpair: (): [number, number] => emulatedSys.socketpair(),
  read: (fd: number, buffer: Uint8Array): number => emulatedSys.read(fd, buffer),
  write: (fd: number, data: Uint8Array): number => emulatedSys.write(fd, data),
  send: (fd: number, data: Uint8Array, flags: number): number => emulatedSys.send(fd, data, flags),
  close: (fd: number): void => emulatedSys.close(fd),
  tcpListen: (): { fd: number; port: number } => emulatedSys.tcpListen('127.0.0.1', 0, 16),
  tcpAccept: (fd: number): number => emulatedSys.tcpAccept(fd),
  tcpConnect: (port: number): number => emulatedSys.tcpConnect('127.0.0.1', port),
};

/** Sleep the thread for about `ms` milliseconds (fixture functions are synchronous). */
export function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Retry `attempt` until it returns something other than WOULD_BLOCK, for at most about two seconds. */
export function retry(what: string, attempt: () => number): number {
  for (let i = 0; i < 2000; i++) {
    const result = attempt();
    if (result !== WOULD_BLOCK) return result;
    pause(1);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A connected TCP pair on 127.0.0.1 whose server side reports PRIORITY once `trigger()` sends urgent data. */
export function priorityPair(): { fd: number; client: number; trigger(): void; close(): void } {
  const listener = sys.tcpListen();
  const opened: number[] = [listener.fd];
  try {
    const client = sys.tcpConnect(listener.port);
    opened.push(client);
    const server = retry('accept', () => sys.tcpAccept(listener.fd));
    opened.push(server);
    return {
      fd: server,
      client,
      trigger() {
        retry('send MSG_OOB', () => {
          try {
            return sys.send(client, Buffer.from('!'), sys.MSG_OOB);
          } catch (err) {
            if ((err as { code?: string }).code === 'ENOTCONN') return WOULD_BLOCK;
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

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

/** Assert, from /proc, that a descriptor is non-blocking and close-on-exec (what every fallback must give). */
export function expectNonBlockingCloexec(fd: number): void {
  const match = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  const flags = Number.parseInt(match?.[1] ?? '0', 8);
  expect(flags & O_NONBLOCK).toBe(O_NONBLOCK);
  expect(flags & O_CLOEXEC).toBe(O_CLOEXEC);
}

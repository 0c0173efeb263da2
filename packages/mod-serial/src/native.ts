/**
 * Loading `fdloop_serial.node` and the exact shape of what it exports. Internal: the public API is in `port.ts`,
 * which validates arguments and turns `-errno` results into {@link ErrnoError}s.
 *
 * @module
 */

import { addonLoader } from '@fdloop/native-build';

/** The order of the line settings in the Int32Array exchanged with the addon (native/serial.h). */
export const SETTINGS_FIELDS = ['baudRate', 'dataBits', 'stopBits', 'parity', 'rtscts', 'xon', 'xoff', 'xany', 'hupcl'] as const;

/** Parity codes of the addon, in the order of native/serial.h. */
export const PARITY_CODES = ['none', 'odd', 'even', 'mark', 'space'] as const;

/** The step of `open` that failed, written into its `out[0]`. */
export const OPEN_STEPS = ['open', 'ioctl', 'ioctl', 'flock'] as const;

/** Constants from the C headers the addon was compiled against. */
export interface NativeConstants {
  readonly TIOCM_DTR: number;
  readonly TIOCM_RTS: number;
  readonly TIOCM_CTS: number;
  readonly TIOCM_DSR: number;
  readonly TIOCM_CD: number;
  readonly TIOCM_RI: number;
  readonly TCIFLUSH: number;
  readonly TCOFLUSH: number;
  readonly TCIOFLUSH: number;
  readonly SER_RS485_ENABLED: number;
  readonly SER_RS485_RTS_ON_SEND: number;
  readonly SER_RS485_RTS_AFTER_SEND: number;
  readonly SER_RS485_RX_DURING_TX: number;
  readonly SER_RS485_TERMINATE_BUS: number;
}

/** Everything `fdloop_serial.node` exports. Each function returns a non-negative result or `-errno`. */
export interface NativeSerial {
  open(path: string, exclusive: boolean, step: Int32Array): number;
  close(fd: number): number;
  read(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  write(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  getSettings(fd: number, out: Int32Array): number;
  applySettings(fd: number, settings: Int32Array, readBack: Int32Array): number;
  lowLatency(fd: number, on: boolean): number;
  modemGet(fd: number): number;
  modemSet(fd: number, set: number, clear: number): number;
  outq(fd: number): number;
  inq(fd: number): number;
  flush(fd: number, queue: number): number;
  setBreak(fd: number, on: boolean): number;
  rs485Get(fd: number, out: Int32Array): number;
  rs485Set(fd: number, settings: Int32Array): number;
  readonly constants: NativeConstants;
}

/**
 * Load the addon once per thread: a prebuilt binary for this platform if one ships with the package, else the one
 * `npm install` compiled into `build/Release` (a prebuild that fails in dlopen is skipped).
 * @throws AddonLoadError (from `@fdloop/native-build`) explaining how to build the addon, with each location tried
 *   and why it failed.
 */
export const loadNative: () => NativeSerial = addonLoader<NativeSerial>({
  name: '@fdloop/mod-serial',
  addon: 'fdloop_serial.node',
  root: new URL('../', import.meta.url),
  note: process.platform === 'linux' ? undefined : `The serial addon is built on Linux only; this is ${process.platform}.`,
});

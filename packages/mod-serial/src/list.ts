/**
 * {@link list}: the serial ports of this machine, read from sysfs (`/sys/class/tty`) without udev, and
 * {@link watchPorts}: a watcher reporting ports that appear and disappear.
 *
 * sysfs and `/dev` live in memory, so reading them synchronously on the loop thread takes microseconds and never
 * waits for a disk or for the thread pool. No process is spawned (serialport's `list()` runs `udevadm`, which
 * fails with an unhandled `spawn udevadm ENOENT` where udev is missing, as in containers).
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, describeReceived, type Runtime, type Timer } from '@fdloop/core';

/** One serial port found by {@link list}. USB fields are present only for USB devices that report them. */
export interface PortInfo {
  /** The device node, for example `/dev/ttyUSB0`. */
  readonly path: string;
  /** The kernel's name, for example `ttyUSB0`. */
  readonly name: string;
  /** The kernel driver bound to the device (`ftdi_sio`, `cdc_acm`, `cp210x`, `serial`…), when known. */
  readonly driver?: string;
  /** The device's directory under `/sys/devices`, when it has one. */
  readonly sysfsPath?: string;
  /** USB vendor id, four lowercase hex digits (`'0403'`). */
  readonly vendorId?: string;
  /** USB product id, four lowercase hex digits (`'6001'`). */
  readonly productId?: string;
  /** USB serial number string. */
  readonly serialNumber?: string;
  /** USB manufacturer string. */
  readonly manufacturer?: string;
  /** USB product string. */
  readonly product?: string;
  /** USB interface number (`bInterfaceNumber`) for multi-port adapters, as two hex digits. */
  readonly interfaceNumber?: string;
  /** Stable names in `/dev/serial/by-id` pointing at this port (present only where udev made them). */
  readonly byId?: readonly string[];
}

/** Options of {@link list}. */
export interface ListOptions {
  /**
   * Also list ports that are probably not there: 8250/16550 slots whose UART `type` is 0 (unknown), and entries
   * without a device node. Defaults to `false`.
   */
  readonly all?: boolean;
  /** The sysfs mount point. Defaults to `'/sys'` (tests point it at a prepared tree). */
  readonly sysfsRoot?: string;
  /** Where device nodes live. Defaults to `'/dev'`. */
  readonly devRoot?: string;
}

function readAttr(dir: string, name: string): string | undefined {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch {
    return undefined;
  }
}

function driverOf(dir: string): string | undefined {
  try {
    return basename(readlinkSync(join(dir, 'driver')));
  } catch {
    return undefined;
  }
}

function byIdLinks(devRoot: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  const dir = join(devRoot, 'serial', 'by-id');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return map;
  }
  for (const n of names) {
    try {
      const target = basename(readlinkSync(join(dir, n)));
      const list = map.get(target) ?? [];
      list.push(join(dir, n));
      map.set(target, list);
    } catch {
      // Not a link: nothing to map.
    }
  }
  return map;
}

function describeEntry(classDir: string, name: string, devRoot: string, all: boolean, byId: Map<string, string[]>): PortInfo | undefined {
  const entry = join(classDir, name);
  const deviceLink = join(entry, 'device');
  // Virtual terminals, ptys and the console have no `device`: they are not serial ports.
  if (!existsSync(deviceLink)) return undefined;
  if (!all && readAttr(entry, 'type') === '0') return undefined;
  const path = join(devRoot, name);
  if (!all && !existsSync(path)) return undefined;
  let device: string;
  try {
    device = realpathSync(deviceLink);
  } catch {
    return undefined;
  }
  // Kernels from 6.5 put a serial-base `port` device between the tty and the real device: name the real driver.
  let driverDir = device;
  let driver = driverOf(driverDir);
  while ((driver === 'port' || driver === 'ctrl') && dirname(driverDir) !== driverDir) {
    driverDir = dirname(driverDir);
    driver = driverOf(driverDir);
  }
  const info: Record<string, unknown> = { path, name, sysfsPath: device };
  if (driver !== undefined) info.driver = driver;
  // A USB serial tty hangs below a USB interface, below the USB device that has idVendor/idProduct.
  const stop = resolve(device, '/');
  for (let dir = device; dir !== stop && dir !== dirname(dir); dir = dirname(dir)) {
    if (info.interfaceNumber === undefined) {
      const iface = readAttr(dir, 'bInterfaceNumber');
      if (iface !== undefined) info.interfaceNumber = iface;
    }
    const vendorId = readAttr(dir, 'idVendor');
    if (vendorId === undefined) continue;
    info.vendorId = vendorId.toLowerCase();
    const productId = readAttr(dir, 'idProduct');
    if (productId !== undefined) info.productId = productId.toLowerCase();
    for (const [attr, key] of [['serial', 'serialNumber'], ['manufacturer', 'manufacturer'], ['product', 'product']] as const) {
      const v = readAttr(dir, attr);
      if (v !== undefined && v !== '') info[key] = v;
    }
    break;
  }
  const links = byId.get(name);
  if (links !== undefined) info.byId = links;
  return Object.freeze(info) as unknown as PortInfo;
}

function checkListOptions(options: ListOptions): { all: boolean; sysfsRoot: string; devRoot: string } {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'must be an object');
  const all = options.all ?? false;
  if (typeof all !== 'boolean') throw new InvalidArgumentError('options.all', 'must be a boolean');
  const sysfsRoot = options.sysfsRoot ?? '/sys';
  const devRoot = options.devRoot ?? '/dev';
  if (typeof sysfsRoot !== 'string' || sysfsRoot === '') throw new InvalidArgumentError('options.sysfsRoot', 'must be a non-empty string');
  if (typeof devRoot !== 'string' || devRoot === '') throw new InvalidArgumentError('options.devRoot', 'must be a non-empty string');
  return { all, sysfsRoot, devRoot };
}

/**
 * The serial ports of this machine, synchronously (see {@link list}).
 * @throws InvalidArgumentError for bad options. A missing `/sys/class/tty` gives an empty list, not an error.
 */
export function listSync(options: ListOptions = {}): PortInfo[] {
  const { all, sysfsRoot, devRoot } = checkListOptions(options);
  const classDir = join(sysfsRoot, 'class', 'tty');
  let names: string[];
  try {
    names = readdirSync(classDir);
  } catch {
    return [];
  }
  const byId = byIdLinks(devRoot);
  const ports: PortInfo[] = [];
  for (const name of names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const info = describeEntry(classDir, name, devRoot, all, byId);
    if (info !== undefined) ports.push(info);
  }
  return ports;
}

/**
 * The serial ports of this machine: every tty in `/sys/class/tty` backed by a device (UARTs, USB serial
 * adapters, CDC ACM modems, Bluetooth RFCOMM…), with its driver and, for USB devices, vendor and product ids,
 * serial number, manufacturer and product strings. Works without udev and spawns nothing.
 *
 * @example
 * ```ts
 * import { list } from '@fdloop/mod-serial';
 * for (const p of await list()) console.log(p.path, p.driver, p.vendorId, p.productId);
 * ```
 */
export function list(options: ListOptions = {}): Promise<PortInfo[]> {
  try {
    return Promise.resolve(listSync(options));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Options of {@link watchPorts}. */
export interface WatchPortsOptions extends ListOptions {
  /** The runtime whose timers drive the polling. */
  readonly runtime: Runtime;
  /** Milliseconds between scans. Defaults to `1000`. */
  readonly interval?: number;
  /**
   * Extra paths to watch besides the sysfs ports, for ttys that sysfs does not list as serial ports (ptys made by
   * socat, symbolic links): each is reported while it exists. Defaults to none.
   */
  readonly paths?: readonly string[];
  /** Report the ports present at the start as `'add'` events too. Defaults to `false`. */
  readonly emitExisting?: boolean;
  /**
   * Also rescan at once when the device directory (`devRoot`) or the directory of one of `paths` changes, through
   * the runtime's path watching (inotify) when its backend offers it; the interval scan stays as a safety net.
   * Defaults to `true`.
   */
  readonly pathWatch?: boolean;
}

/** The part of a runtime path watcher (`rt.watchPath`, fdloop's event sources) the port watcher uses. */
interface DirectoryWatch {
  close(): void;
  ref(): unknown;
  unref(): unknown;
}

type WatchPathFn = (path: string, callback: () => void) => DirectoryWatch;

/**
 * The runtime's `watchPath` when its backend has the `pathWatch` capability. Looked up at run time, so this
 * package also works with runtimes (and versions of `@fdloop/core`) that have no event sources.
 */
function pathWatchOf(runtime: Runtime): WatchPathFn | undefined {
  const rt = runtime as unknown as { watchPath?: unknown; backend?: { capabilities?: Record<string, unknown> } };
  if (typeof rt.watchPath !== 'function' || rt.backend?.capabilities?.pathWatch !== true) return undefined;
  return (path, callback) => (rt.watchPath as (p: string, cb: () => void) => DirectoryWatch).call(runtime, path, callback);
}

/**
 * A running port watcher from {@link watchPorts}. Events: `'add'` and `'remove'` with a {@link PortInfo},
 * `'error'` if a scan fails.
 */
export class PortWatcher extends EventEmitter {
  private readonly options: WatchPortsOptions;
  private readonly timer: Timer;
  private readonly directoryWatches: DirectoryWatch[] = [];
  private rescan: Timer | undefined;
  private closed = false;
  private known = new Map<string, PortInfo>();

  /** Use {@link watchPorts}. */
  constructor(options: WatchPortsOptions) {
    super();
    if (typeof options !== 'object' || options === null || typeof options.runtime?.setInterval !== 'function') {
      throw new InvalidArgumentError('options.runtime', 'must be an fdloop Runtime');
    }
    const interval = options.interval ?? 1000;
    if (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 1) {
      throw new InvalidArgumentError('options.interval', `must be a positive integer (milliseconds), got ${describeReceived(interval)}`);
    }
    const paths = options.paths ?? [];
    if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string' || p === '')) {
      throw new InvalidArgumentError('options.paths', 'must be an array of non-empty strings');
    }
    checkListOptions(options);
    this.options = options;
    const first = this.scan();
    if (options.emitExisting === true) {
      this.known = new Map();
      // Emitted after the caller had a chance to add listeners.
      options.runtime.setImmediate(() => this.apply(first));
    } else {
      this.known = first;
    }
    this.timer = options.runtime.setInterval(() => this.poll(), interval);
    const pathWatch = options.pathWatch ?? true;
    if (typeof pathWatch !== 'boolean') throw new InvalidArgumentError('options.pathWatch', 'must be a boolean');
    const watchPath = pathWatch ? pathWatchOf(options.runtime) : undefined;
    if (watchPath !== undefined) {
      const dirs = new Set([options.devRoot ?? '/dev', ...paths.map((p) => dirname(p))]);
      for (const dir of dirs) {
        try {
          this.directoryWatches.push(watchPath(dir, () => this.soon()));
        } catch {
          // A directory that does not exist (yet) or a watch limit reached: the interval scan still covers it.
        }
      }
    }
  }

  /** Whether directory changes trigger an immediate rescan (the runtime's path watching is in use). */
  get usesPathWatch(): boolean {
    return this.directoryWatches.length > 0;
  }

  /** Coalesce a burst of directory events (a device node and its by-id links) into one rescan. */
  private soon(): void {
    if (this.rescan !== undefined || this.closed) return;
    this.rescan = this.options.runtime.setImmediate(() => {
      this.rescan = undefined;
      if (!this.closed) this.poll();
    });
  }

  /** The ports currently present, by path. */
  get ports(): readonly PortInfo[] {
    return [...this.known.values()];
  }

  private scan(): Map<string, PortInfo> {
    const now = new Map<string, PortInfo>();
    for (const p of listSync(this.options)) now.set(p.path, p);
    for (const path of this.options.paths ?? []) {
      if (existsSync(path)) now.set(path, Object.freeze({ path, name: basename(path) }));
    }
    return now;
  }

  private poll(): void {
    let now: Map<string, PortInfo>;
    try {
      now = this.scan();
    } catch (error) {
      this.emit('error', error);
      return;
    }
    this.apply(now);
  }

  private apply(now: Map<string, PortInfo>): void {
    const before = this.known;
    this.known = now;
    for (const [path, info] of before) if (!now.has(path)) this.emit('remove', info);
    for (const [path, info] of now) if (!before.has(path)) this.emit('add', info);
  }

  /** Keep the runtime alive for the watcher (the default). Returns the watcher. */
  ref(): this {
    this.timer.ref();
    for (const w of this.directoryWatches) w.ref();
    return this;
  }

  /** Do not keep the runtime alive for the watcher. Returns the watcher. */
  unref(): this {
    this.timer.unref();
    for (const w of this.directoryWatches) w.unref();
    return this;
  }

  /** Stop watching. Idempotent. */
  close(): void {
    this.closed = true;
    this.timer.cancel();
    this.rescan?.cancel();
    for (const w of this.directoryWatches.splice(0)) w.close();
  }

  /** `using w = watchPorts(…)` closes the watcher. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Watch for serial ports appearing and disappearing (a USB adapter plugged in or out). The watcher scans sysfs
 * every `interval` ms on the runtime's timers, and at once when `/dev` (or the directory of a watched path)
 * changes, if the runtime's backend offers path watching (inotify through `rt.watchPath`). A scan costs a
 * directory listing of `/sys/class/tty` and a few attribute reads.
 *
 * @example
 * ```ts
 * const watcher = watchPorts({ runtime, interval: 500 });
 * watcher.on('add', (p) => console.log('plugged in', p.path, p.vendorId));
 * watcher.on('remove', (p) => console.log('unplugged', p.path));
 * ```
 */
export function watchPorts(options: WatchPortsOptions): PortWatcher {
  return new PortWatcher(options);
}

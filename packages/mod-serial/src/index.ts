/**
 * `@fdloop/mod-serial`: serial ports and ttys on an fdloop runtime, with no thread pool anywhere.
 *
 * - {@link open} a port with any baud rate (termios2 `BOTHER`), data/stop bits, parity, RTS/CTS and XON/XOFF
 *   flow control, exclusive access and low latency; {@link SerialPort.update} changes settings while open.
 * - I/O is readiness-driven and non-blocking on the runtime's thread: the port is a Node Duplex stream
 *   (`'data'` callbacks, `pipe`, backpressure both ways), {@link SerialPort.chunks} is an async iterator.
 * - {@link SerialPort.drain} without blocking, {@link SerialPort.flush}, {@link SerialPort.sendBreak}, modem
 *   lines, RS-485.
 * - {@link list} from sysfs without udev, {@link watchPorts} for hot-plug, disconnect reasons and opt-in
 *   reconnect.
 * - Parsers as Transform streams and async-iterator helpers (lines, delimiter, fixed length, inter-byte timeout,
 *   SLIP, regex, start/end markers).
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { epoll } from '@fdloop/backend-epoll';
 * import { open, lines } from '@fdloop/mod-serial';
 *
 * const runtime = createRuntime({ backend: epoll() });
 * const port = open('/dev/ttyACM0', { runtime, baudRate: 115200 });
 * port.write('hello\n');
 * for await (const line of lines(port.chunks())) {
 *   console.log(line);
 *   if (line === 'bye') break;
 * }
 * await port.close();
 * await runtime.close();
 * ```
 *
 * @packageDocumentation
 */

export {
  open,
  SerialPort,
  type DisconnectInfo,
  type FlushQueue,
  type ModemLines,
  type ReconnectOptions,
  type Rs485Settings,
  type SerialPortOptions,
  type WriteCallback,
} from './port.js';
export { DEFAULT_SETTINGS, type LineSettings, type Parity } from './settings.js';
export { list, listSync, watchPorts, PortWatcher, type ListOptions, type PortInfo, type WatchPortsOptions } from './list.js';
export * from './parsers.js';

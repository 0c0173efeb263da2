// list() from sysfs without udev: on this machine's real /sys, and on a fake sysfs tree laid out like a machine
// with a USB FTDI adapter, a CDC ACM modem, a real 16550 UART behind the serial-base bus (Linux >= 6.5), a
// phantom 8250 slot and a virtual console (this machine has no USB serial hardware to show the USB fields).
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@fdloop/core';
import { list, listSync, watchPorts } from '../src/index.js';
import { runtime } from './helpers.js';

describe('list() on this machine', () => {
  it('returns only ttys backed by a device, each with an existing device node; spawns nothing', async () => {
    const ports = await list();
    for (const p of ports) {
      expect(p.path).toBe(`/dev/${p.name}`);
      expect(existsSync(p.path)).toBe(true);
      expect(existsSync(`/sys/class/tty/${p.name}/device`)).toBe(true);
      expect(p.name).not.toMatch(/^(tty\d*|ptmx|console)$/);
    }
    // Every listed UART slot has a known type (phantom 8250 slots are left out unless `all`).
    expect(listSync({ all: true }).length).toBeGreaterThanOrEqual(ports.length);
  });

  it('a missing sysfs gives an empty list; bad options are typed', async () => {
    expect(await list({ sysfsRoot: '/nonexistent-sysfs' })).toEqual([]);
    await expect(list({ all: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('list() on a fake sysfs tree', () => {
  let root: string;
  let sys: string;
  let dev: string;

  function file(path: string, content: string): void {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${content}\n`);
  }
  function link(path: string, target: string): void {
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync(relative(dirname(path), target), path);
  }
  function tty(name: string, deviceDir: string | undefined, driver: string | undefined, extra: Record<string, string> = {}): void {
    const classDir = deviceDir === undefined ? join(sys, 'devices/virtual/tty', name) : join(deviceDir, 'tty', name);
    mkdirSync(classDir, { recursive: true });
    for (const [k, v] of Object.entries(extra)) file(join(classDir, k), v);
    if (deviceDir !== undefined) link(join(classDir, 'device'), deviceDir);
    if (deviceDir !== undefined && driver !== undefined) link(join(deviceDir, 'driver'), join(sys, 'bus/x/drivers', driver));
    link(join(sys, 'class/tty', name), classDir);
    file(join(dev, name), '');
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'fdloop-fake-sysfs-'));
    sys = join(root, 'sys');
    dev = join(root, 'dev');
    // USB FTDI: device 1-2 (ids, strings) > interface 1-2:1.0 > usb-serial port ttyUSB0 (driver ftdi_sio).
    const usb = join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-2');
    file(join(usb, 'idVendor'), '0403');
    file(join(usb, 'idProduct'), '6001');
    file(join(usb, 'serial'), 'A50285BI');
    file(join(usb, 'manufacturer'), 'FTDI');
    file(join(usb, 'product'), 'FT232R USB UART');
    file(join(usb, '1-2:1.0/bInterfaceNumber'), '00');
    tty('ttyUSB0', join(usb, '1-2:1.0/ttyUSB0'), 'ftdi_sio');
    link(join(dev, 'serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0'), join(dev, 'ttyUSB0'));
    // CDC ACM: the tty hangs directly below the interface; no serial string.
    const acm = join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-3');
    file(join(acm, 'idVendor'), '2341');
    file(join(acm, 'idProduct'), '0043');
    file(join(acm, 'manufacturer'), 'Arduino (www.arduino.cc)');
    tty('ttyACM0', join(acm, '1-3:1.0'), 'cdc_acm');
    file(join(acm, '1-3:1.0/bInterfaceNumber'), '00');
    // A 16550 behind serial-base (port device > ctrl device > the pnp device bound to "serial"), as on this VM.
    const pnp = join(sys, 'devices/pnp0/00:00');
    link(join(pnp, 'driver'), join(sys, 'bus/pnp/drivers/serial'));
    link(join(pnp, '00:00:0/driver'), join(sys, 'bus/serial-base/drivers/ctrl'));
    tty('ttyS0', join(pnp, '00:00:0/00:00:0.0'), 'port', { type: '4' });
    // A phantom slot (type 0) and a virtual console (no device).
    tty('ttyS1', join(sys, 'devices/platform/serial8250/serial8250:0/serial8250:0.1'), 'port', { type: '0' });
    tty('tty1', undefined, undefined);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds the USB, ACM and UART ports with driver, ids, strings and by-id links; leaves out phantoms and vts', async () => {
    const ports = await list({ sysfsRoot: sys, devRoot: dev });
    expect(ports.map((p) => p.name)).toEqual(['ttyACM0', 'ttyS0', 'ttyUSB0']);
    const [acm, uart, usb] = ports;
    expect(usb).toMatchObject({
      path: join(dev, 'ttyUSB0'),
      driver: 'ftdi_sio',
      vendorId: '0403',
      productId: '6001',
      serialNumber: 'A50285BI',
      manufacturer: 'FTDI',
      product: 'FT232R USB UART',
      interfaceNumber: '00',
      byId: [join(dev, 'serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0')],
    });
    expect(acm).toMatchObject({ driver: 'cdc_acm', vendorId: '2341', productId: '0043', manufacturer: 'Arduino (www.arduino.cc)' });
    expect(acm?.serialNumber).toBeUndefined();
    expect(uart).toMatchObject({ name: 'ttyS0', driver: 'serial' });
    expect(uart?.vendorId).toBeUndefined();
  });

  it('all: true includes the phantom slot', () => {
    expect(listSync({ sysfsRoot: sys, devRoot: dev, all: true }).map((p) => p.name)).toEqual(['ttyACM0', 'ttyS0', 'ttyS1', 'ttyUSB0']);
  });

  it('the port watcher sees a fake USB adapter appear and disappear', async () => {
    const rt = runtime();
    try {
      const watcher = watchPorts({ runtime: rt, sysfsRoot: sys, devRoot: dev, interval: 5 });
      expect(watcher.ports.map((p) => p.name)).toEqual(['ttyACM0', 'ttyS0', 'ttyUSB0']);
      const added = new Promise<string>((resolve) => watcher.once('add', (p: { name: string }) => resolve(p.name)));
      const usb = join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-4');
      file(join(usb, 'idVendor'), '10c4');
      file(join(usb, 'idProduct'), 'ea60');
      tty('ttyUSB1', join(usb, '1-4:1.0/ttyUSB1'), 'cp210x');
      expect(await added).toBe('ttyUSB1');
      const removed = new Promise<string>((resolve) => watcher.once('remove', (p: { name: string }) => resolve(p.name)));
      rmSync(join(sys, 'class/tty/ttyUSB1'));
      rmSync(join(dev, 'ttyUSB1'));
      expect(await removed).toBe('ttyUSB1');
      watcher.close();
    } finally {
      await rt.close();
    }
  });
});

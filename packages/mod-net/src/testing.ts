/**
 * `@fdloop/mod-net/testing`: the net conformance suite. Any backend's `Backend.net` (the {@link NetSyscalls}
 * contract of `@fdloop/core`) is checked through `@fdloop/mod-net` in one call: TCP echo over IPv4 and IPv6 with our
 * client and with `node:net` as the peer, half-close, a large transfer through queued writes, adopt, Node-shaped
 * errors, UDP over IPv4 and IPv6, unix stream and datagram sockets, and `reusePort`. Every scenario uses real
 * sockets on 127.0.0.1 / ::1 (and unix paths in a temporary directory) and `node:assert`, so it runs under vitest,
 * `node:test`, mocha or jest.
 *
 * @example
 * ```ts
 * // test/net.test.ts of a backend package
 * import { describe, it } from 'vitest';
 * import { runNetSuite } from '@fdloop/mod-net/testing';
 * import { epoll, sys } from '@fdloop/backend-epoll';
 *
 * runNetSuite({
 *   backend: () => epoll(),
 *   notASocket: () => {
 *     const [r, w] = sys.pipe();
 *     return { fd: r, close: () => [r, w].forEach((fd) => sys.close(fd)) };
 *   },
 *   describe,
 *   it,
 * });
 * ```
 *
 * @packageDocumentation
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, ErrnoError, type Backend, type NetSyscalls, type Runtime, type SocketAddressInfo } from '@fdloop/core';
import { DatagramSocket, netModule, Server, Socket, type NetApi } from './index.js';

/** A `describe` function: vitest's, `node:test`'s, mocha's… */
export type NetSuiteDescribeFn = (name: string, body: () => void) => unknown;
/** An `it` function: vitest's, `node:test`'s, mocha's… */
export type NetSuiteItFn = (name: string, body: () => Promise<void> | void, timeout?: number) => unknown;

/** A descriptor (or handle) that is not a socket, from {@link NetSuiteOptions.notASocket}. */
export interface NotASocket {
  /** The descriptor `adopt()` must refuse with `ENOTSOCK` (for example the read end of a pipe). */
  readonly fd: number;
  /** Close everything that was opened to make `fd`. */
  close(): void;
}

/** Options of {@link runNetSuite}. */
export interface NetSuiteOptions {
  /** Creates a fresh backend for each test; its `net` extension is what the suite checks. */
  readonly backend: () => Backend;
  /** The test framework's `describe`. */
  readonly describe: NetSuiteDescribeFn;
  /** The test framework's `it`. Called as `it(name, body, timeout)`. */
  readonly it: NetSuiteItFn;
  /** A label for the suite's `describe`. Defaults to `` `net: @fdloop/mod-net on ${backend().name}` ``. */
  readonly name?: string;
  /** The per-test timeout in milliseconds, passed as `it`'s third argument. Defaults to `10000`. */
  readonly timeout?: number;
  /**
   * Whether the platform has unix-domain sockets (AF_UNIX). When `false` the unix stream and datagram tests are
   * skipped (Wine has no AF_UNIX provider). Defaults to `true`.
   */
  readonly unix?: boolean;
  /**
   * Whether the platform has `SO_REUSEPORT`. When `true` two listeners share one port; when `false` the suite
   * checks that `listen({ reusePort: true })` is refused with an error naming `SO_REUSEPORT`. Defaults to `true`.
   */
  readonly reusePort?: boolean;
  /**
   * Whether the platform honours the keep-alive idle time (`TCP_KEEPIDLE`): when `true` the suite checks that
   * `setKeepAlive(true, 30000)` sets it to 30 s; when `false` it checks only `SO_KEEPALIVE`. Defaults to `true`.
   */
  readonly keepAliveTiming?: boolean;
  /**
   * Makes a descriptor that is not a socket, for the `ENOTSOCK` test of `adopt()`. Without it that test is
   * skipped.
   */
  readonly notASocket?: () => NotASocket;
}

/** Everything one test works with: a runtime on a fresh backend, its net API and a temporary directory. */
interface Context {
  readonly rt: Runtime;
  readonly net: NetApi;
  readonly raw: NetSyscalls;
  readonly dir: string;
}

/** Run `body` with a fresh runtime, closing the runtime and removing the directory afterwards. */
async function withNet(backend: () => Backend, body: (ctx: Context) => Promise<void> | void): Promise<void> {
  const b = backend();
  assert.ok(b.net, `backend ${b.name} has no net extension`);
  const rt = createRuntime({ backend: b });
  const dir = mkdtempSync(join(tmpdir(), 'fdloop-net-suite-'));
  try {
    await body({ rt, net: rt.use(netModule), raw: b.net, dir });
  } finally {
    await rt.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A server that writes back everything it receives. */
function echoServer(net: NetApi, options: Parameters<NetApi['listen']>[0]): Server {
  return net.listen(options, (socket) => {
    socket.handle({ data: (chunk) => socket.write(Buffer.from(chunk)) });
  });
}

/** Read from `socket` until `length` bytes arrived (or the stream ended). */
async function readBytes(socket: Socket, length: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  while (n < length) {
    const chunk = await socket.read();
    if (chunk === null) break;
    parts.push(Buffer.from(chunk));
    n += chunk.length;
  }
  return Buffer.concat(parts).toString();
}

/** Connect to `target`, send `text`, check that it comes back, and close the client. */
async function expectEcho(net: NetApi, target: Parameters<NetApi['connect']>[0], text: string): Promise<void> {
  const client = await net.connect(target);
  client.write(text);
  assert.equal(await readBytes(client, Buffer.byteLength(text)), text);
  client.close();
}

/** A raw listening TCP socket on 127.0.0.1 and an ephemeral port, made with the backend's own calls. */
function rawListener(raw: NetSyscalls): { fd: number; port: number } {
  const c = raw.constants;
  const fd = ok(raw.socket(c.AF_INET, c.SOCK_STREAM), 'socket');
  ok(raw.bind(fd, c.AF_INET, '127.0.0.1', 0), 'bind');
  ok(raw.listen(fd, 16), 'listen');
  const local = addr();
  ok(raw.localAddress(fd, local), 'localAddress');
  return { fd, port: local.port };
}

/** Collect everything a socket receives until the peer ends. */
function collect(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.handle({
      data: (chunk) => parts.push(Buffer.from(chunk)),
      close: (error) => (error ? reject(error) : resolve(Buffer.concat(parts))),
    });
  });
}

/** Send `text` with a node:net client to `port` and resolve with what comes back once as many bytes arrived. */
function nodeEcho(host: string, port: number, text: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const s = nodeNet.connect(port, host, () => s.write(text));
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
}

/** A node:net echo server on `host`, port 0. */
async function nodeEchoServer(host: string): Promise<nodeNet.Server> {
  const server = nodeNet.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return server;
}

/** An empty address record for the raw calls. */
function addr(): SocketAddressInfo {
  return { family: '', address: '', port: 0 };
}

/** A raw call's result, or an assertion failure naming the call. */
function ok(rc: number, what: string): number {
  assert.ok(rc >= 0, `${what} failed with ${rc}`);
  return rc;
}

/**
 * Register the net conformance suite with the given test framework: one `describe` (labelled by
 * {@link NetSuiteOptions.name}) holding one `it` per scenario, each on a fresh runtime over `options.backend()`.
 *
 * @param options - The backend, the framework functions and the platform's feature flags.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runNetSuite } from '@fdloop/mod-net/testing';
 * import { iocp, sys } from '@fdloop/backend-iocp';
 *
 * runNetSuite({
 *   name: 'net: @fdloop/mod-net on iocp',
 *   backend: () => iocp(),
 *   unix: false, // Wine has no AF_UNIX
 *   reusePort: false, // Windows has no SO_REUSEPORT
 *   keepAliveTiming: false,
 *   notASocket: () => {
 *     const [r, w] = sys.pipe();
 *     return { fd: r, close: () => [r, w].forEach((h) => sys.closeHandle(h)) };
 *   },
 *   describe,
 *   it,
 * });
 * ```
 */
export function runNetSuite(options: NetSuiteOptions): void {
  const { describe, it } = options;
  const timeout = options.timeout ?? 10_000;
  const unix = options.unix ?? true;
  const reusePort = options.reusePort ?? true;
  const keepAliveTiming = options.keepAliveTiming ?? true;
  const label = options.name ?? `net: @fdloop/mod-net on ${options.backend().name}`;
  const test = (name: string, body: (ctx: Context) => Promise<void> | void): void => {
    it(name, () => withNet(options.backend, body), timeout);
  };

  describe(label, () => {
    for (const [family, host] of [['IPv4', '127.0.0.1'], ['IPv6', '::1']] as const) {
      test(`TCP over ${family}: echoes to our client with addresses in Node shape`, async ({ net }) => {
        const server = echoServer(net, { host, port: 0 });
        assert.ok(server.port > 0);
        assert.equal(server.address().family, family);
        const client = await net.connect({ host, port: server.port });
        assert.deepEqual(client.remoteAddress(), { family, address: host, port: server.port });
        assert.equal(client.localAddress().address, host);
        client.write('hello ');
        client.write(Buffer.from('world'));
        const got: Buffer[] = [];
        for await (const chunk of client) {
          got.push(Buffer.from(chunk));
          if (Buffer.concat(got).length === 11) break;
        }
        assert.equal(Buffer.concat(got).toString(), 'hello world');
        client.close();
        server.close();
      });

      test(`TCP over ${family}: interoperates with node:net as client and as server`, async ({ net }) => {
        const server = echoServer(net, { host, port: 0 });
        assert.equal(await nodeEcho(host, server.port, 'from node:net'), 'from node:net');
        server.close();

        const nodeServer = await nodeEchoServer(host);
        try {
          await expectEcho(net, { host, port: (nodeServer.address() as nodeNet.AddressInfo).port }, 'to node:net');
        } finally {
          await new Promise((resolve) => nodeServer.close(resolve));
        }
      });
    }

    test('TCP: half-closes, and the peer reads end of stream and can still answer', async ({ net }) => {
      const server = net.listen({ port: 0, allowHalfOpen: true }, (socket) => {
        const parts: Buffer[] = [];
        socket.handle({
          data: (chunk) => parts.push(Buffer.from(chunk)),
          end: () => socket.end(`got ${Buffer.concat(parts).length} bytes`),
        });
      });
      const client = await net.connect({ port: server.port, allowHalfOpen: true });
      const reply = collect(client);
      client.write('abcdef');
      client.end();
      assert.equal(client.writableEnded, true);
      assert.equal((await reply).toString(), 'got 6 bytes');
      server.close();
    });

    test('TCP: delivers 4 MiB intact through queued writes (backpressure, writev batches, checksum)', async ({ net }) => {
      const total = 4 * 1024 * 1024;
      const payload = Buffer.alloc(total);
      for (let i = 0; i < total; i += 4) payload.writeUInt32LE(i, i);
      let resolveDigest: (hex: string) => void = () => undefined;
      const digest = new Promise<string>((resolve) => (resolveDigest = resolve));
      const server = net.listen({ port: 0 }, (socket) => {
        const hash = createHash('sha256');
        let n = 0;
        socket.handle({
          data: (chunk) => {
            hash.update(chunk);
            n += chunk.length;
            if (n === total) {
              resolveDigest(hash.digest('hex'));
              socket.close();
            }
          },
        });
      });
      const client = await net.connect({ port: server.port, highWaterMark: 256 * 1024 });
      const chunks = 64;
      let refused = 0;
      client.cork();
      for (let i = 0; i < chunks; i++) if (!client.write(payload.subarray((i * total) / chunks, ((i + 1) * total) / chunks))) refused += 1;
      client.uncork();
      assert.ok(refused > 0, 'write() must report backpressure past the high-water mark');
      await client.drained();
      assert.equal(client.bufferedAmount, 0);
      client.end();
      assert.equal(await digest, createHash('sha256').update(payload).digest('hex'));
      server.close();
    });

    test('TCP: sets and reads socket options', async ({ net }) => {
      const server = echoServer(net, { port: 0 });
      const client = await net.connect({ port: server.port, noDelay: false });
      const c = net.syscalls.constants;
      const out = new Int32Array(1);
      client.setNoDelay(true);
      assert.equal(net.syscalls.getOption(client.fd, c.IPPROTO_TCP, c.TCP_NODELAY, out), 0);
      assert.equal(out[0], 1);
      if (keepAliveTiming) client.setKeepAlive(true, 30_000);
      else client.setKeepAlive(true);
      assert.equal(net.syscalls.getOption(client.fd, c.SOL_SOCKET, c.SO_KEEPALIVE, out), 0);
      assert.equal(out[0], 1);
      if (keepAliveTiming) {
        assert.equal(net.syscalls.getOption(client.fd, c.IPPROTO_TCP, c.TCP_KEEPIDLE, out), 0);
        assert.equal(out[0], 30);
      }
      client.close();
      server.close();
    });

    test('TCP: refuses a connection with the ECONNREFUSED node:net gives (code, errno, syscall, address, port, message)', async ({ net }) => {
      const probe = net.listen({ host: '127.0.0.1', port: 0 }, () => undefined);
      const port = probe.port;
      probe.close();
      const error = await net.connect({ host: '127.0.0.1', port }).then(
        () => assert.fail('connect to a closed port succeeded'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ErrnoError, `expected an ErrnoError, got ${String(error)}`);
      const nodeError = await new Promise<NodeJS.ErrnoException & { address?: string; port?: number }>((resolve) => {
        nodeNet.connect(port, '127.0.0.1').on('error', resolve);
      });
      assert.equal(nodeError.code, 'ECONNREFUSED');
      const pick = (e: NodeJS.ErrnoException & { address?: string; port?: number }): object => ({
        code: e.code,
        errno: e.errno,
        syscall: e.syscall,
        address: e.address,
        port: e.port,
        message: e.message,
      });
      assert.deepEqual(pick(error as ErrnoError & { address?: string; port?: number }), pick(nodeError));
    });

    if (reusePort) {
      test('TCP: reusePort lets two listeners share a port', async ({ net }) => {
        const first = echoServer(net, { host: '127.0.0.1', port: 0, reusePort: true });
        const second = echoServer(net, { host: '127.0.0.1', port: first.port, reusePort: true });
        assert.equal(second.port, first.port);
        await expectEcho(net, { host: '127.0.0.1', port: first.port }, 'shared');
        first.close();
        second.close();
      });
    } else {
      test('TCP: refuses reusePort with an error naming SO_REUSEPORT (the platform has none)', ({ net }) => {
        assert.throws(() => net.listen({ port: 0, reusePort: true }, () => undefined), /SO_REUSEPORT/);
      });
    }

    test('adopt: a listening socket, a connected pair and a datagram socket made with the raw calls', async ({ rt, net, raw }) => {
      const c = raw.constants;
      const listener = rawListener(raw);
      const server = net.adopt(listener.fd, (socket) => socket.handle({ data: (chunk) => socket.write(Buffer.from(chunk)) }));
      assert.ok(server instanceof Server);

      // A connected pair: a second raw listener, a raw non-blocking connect and an accept once it is ready.
      const l2 = rawListener(raw);
      const a = ok(raw.socket(c.AF_INET, c.SOCK_STREAM), 'socket');
      const rc = raw.connect(a, c.AF_INET, '127.0.0.1', l2.port);
      assert.ok(rc === 0 || rc === -c.EINPROGRESS, `connect failed with ${rc}`);
      await rt.readable(l2.fd);
      let b = raw.accept(l2.fd);
      for (let i = 0; b === -c.EAGAIN && i < 1000; i++) {
        await rt.sleep(5);
        b = raw.accept(l2.fd);
      }
      ok(b, 'accept');
      raw.close(l2.fd);
      const sa = net.adopt(a);
      const sb = net.adopt(b);
      assert.ok(sa instanceof Socket && sb instanceof Socket);
      sa.write('pair');
      assert.equal(await readBytes(sb, 4), 'pair');

      const d = ok(raw.socket(c.AF_INET, c.SOCK_DGRAM), 'socket');
      ok(raw.bind(d, c.AF_INET, '127.0.0.1', 0), 'bind');
      const dgram = net.adopt(d);
      assert.ok(dgram instanceof DatagramSocket);
      dgram.close();

      await expectEcho(net, { host: '127.0.0.1', port: listener.port }, 'adopted');
      sa.close();
      sb.close();
      server.close();
    });

    if (options.notASocket) {
      const notASocket = options.notASocket;
      test('adopt: refuses a descriptor that is not a socket with ENOTSOCK', ({ net }) => {
        const other = notASocket();
        try {
          assert.throws(() => net.adopt(other.fd), (e: unknown) => e instanceof ErrnoError && e.code === 'ENOTSOCK');
        } finally {
          other.close();
        }
      });
    }

    for (const [type, host] of [['udp4', '127.0.0.1'], ['udp6', '::1']] as const) {
      test(`UDP: round-trips datagrams over ${type} with the sender in Node shape`, async ({ net }) => {
        const family = type === 'udp4' ? 'IPv4' : 'IPv6';
        const seen: SocketAddressInfo[] = [];
        const server = net.udp({ type, host }, (msg, from, self) => {
          seen.push({ ...from });
          self.send(Buffer.from(msg.toString().toUpperCase()), { host: from.address, port: from.port });
        });
        let clientPort = 0;
        const reply = new Promise<string>((resolve) => {
          const client = net.udp({ type, host }, (msg) => {
            resolve(msg.toString());
            client.close();
          });
          clientPort = client.port;
          client.send('ping', { host, port: server.port });
        });
        assert.equal(await reply, 'PING');
        assert.deepEqual(seen, [{ family, address: host, port: clientPort }]);
        server.close();
      });
    }

    if (unix) {
      test('unix: streams over a path, and the path is gone after close (ENOENT)', async ({ net, dir }) => {
        const path = join(dir, 's.sock');
        const server = echoServer(net, { path });
        assert.equal(server.path, path);
        const client = await net.connect({ path });
        assert.deepEqual(client.remoteAddress(), { family: 'unix', address: path, port: 0 });
        client.close();
        await expectEcho(net, { path }, 'unix');
        server.close();
        await assert.rejects(net.connect({ path }), (e: unknown) => e instanceof ErrnoError && e.code === 'ENOENT' && e.syscall === 'connect');
      });

      test('unix: exchanges datagrams with the sender path', async ({ net, dir }) => {
        const a = join(dir, 'a.dgram');
        const b = join(dir, 'b.dgram');
        const got = new Promise<[string, string]>((resolve) => {
          net.unixDatagram({ path: a }, (msg, from, self) => {
            resolve([msg.toString(), from.address]);
            self.close();
          });
        });
        const sender = net.unixDatagram({ path: b });
        assert.equal(sender.send('dgram', { path: a }), true);
        assert.deepEqual(await got, ['dgram', b]);
        sender.close();
      });
    }
  });
}

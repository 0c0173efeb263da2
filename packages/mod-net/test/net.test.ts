import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, ErrnoError, SocketClosedError, TimeoutError, UnsupportedError, type Runtime } from '@fdloop/core';
import { epoll, sys } from '@fdloop/backend-epoll';
import { NetApi, Server, Socket, DatagramSocket, netModule, type NetApi as Api } from '../src/index.js';

let rt: Runtime;
let net: Api;
let dir: string;

beforeEach(() => {
  rt = createRuntime({ backend: epoll() });
  net = rt.use(netModule);
  dir = mkdtempSync(join(tmpdir(), 'fdloop-net-'));
});

afterEach(async () => {
  await rt.close();
  rmSync(dir, { recursive: true, force: true });
});

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

function echoServer(options: Parameters<NetApi['listen']>[0]): Server {
  return net.listen(options, (socket) => {
    socket.handle({ data: (chunk) => socket.write(Buffer.from(chunk)) });
  });
}

describe('TCP', () => {
  it('echoes over IPv4 with the peer address in Node shape', async () => {
    const server = echoServer({ host: '127.0.0.1', port: 0 });
    expect(server.port).toBeGreaterThan(0);
    const client = await net.connect({ host: '127.0.0.1', port: server.port });
    expect(client.remoteAddress()).toEqual({ family: 'IPv4', address: '127.0.0.1', port: server.port });
    client.write('hello ');
    client.write(Buffer.from('world'));
    const got: Buffer[] = [];
    for await (const chunk of client) {
      got.push(chunk);
      if (Buffer.concat(got).length === 11) break;
    }
    expect(Buffer.concat(got).toString()).toBe('hello world');
    client.close();
    server.close();
  });

  it('echoes over IPv6 loopback', async () => {
    const server = echoServer({ host: '::1', port: 0 });
    expect(server.address().family).toBe('IPv6');
    const client = await net.connect({ host: '::1', port: server.port });
    client.write('six');
    expect(String(await client.read())).toBe('six');
    expect(client.localAddress().address).toBe('::1');
    client.close();
    server.close();
  });

  it('half-closes: the peer reads end of stream and can still answer', async () => {
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
    expect(client.writableEnded).toBe(true);
    expect((await reply).toString()).toBe('got 6 bytes');
    server.close();
  });

  it('applies backpressure and delivers 8 MiB intact through writev batches', async () => {
    const total = 8 * 1024 * 1024;
    const payload = Buffer.alloc(total);
    for (let i = 0; i < total; i += 4) payload.writeUInt32LE(i, i);
    let serverSocket: Socket | undefined;
    const server = net.listen({ port: 0 }, (socket) => {
      serverSocket = socket;
      socket.pause(); // nobody reads: the client's queue must grow past the high-water mark
    });
    const client = await net.connect({ port: server.port, highWaterMark: 1024 * 1024 });
    const chunks = 128;
    const size = total / chunks;
    let refused = 0;
    client.cork();
    for (let i = 0; i < chunks; i++) if (!client.write(payload.subarray(i * size, (i + 1) * size))) refused += 1;
    client.uncork();
    expect(refused).toBeGreaterThan(0);
    expect(client.bufferedAmount).toBeGreaterThan(0);
    await rt.sleep(0);
    while (serverSocket === undefined) await rt.sleep(1);
    const received = collectHash(serverSocket, total);
    serverSocket.resume();
    await client.drained();
    expect(client.bufferedAmount).toBe(0);
    expect(await received).toBe(createHash('sha256').update(payload).digest('hex'));
    client.close();
    server.close();
  });

  it('sets and reads socket options', async () => {
    const server = echoServer({ port: 0 });
    const client = await net.connect({ port: server.port, noDelay: false });
    const c = net.syscalls.constants;
    const out = new Int32Array(1);
    client.setNoDelay(true);
    expect(net.syscalls.getOption(client.fd, c.IPPROTO_TCP, c.TCP_NODELAY, out)).toBe(0);
    expect(out[0]).toBe(1);
    client.setKeepAlive(true, 30_000);
    expect(net.syscalls.getOption(client.fd, c.SOL_SOCKET, c.SO_KEEPALIVE, out)).toBe(0);
    expect(out[0]).toBe(1);
    expect(net.syscalls.getOption(client.fd, c.IPPROTO_TCP, c.TCP_KEEPIDLE, out)).toBe(0);
    expect(out[0]).toBe(30);
    client.close();
    server.close();
  });

  it('refuses a connection with a Node-shaped ECONNREFUSED', async () => {
    const probe = net.listen({ port: 0 }, () => {});
    const port = probe.port;
    probe.close();
    const error = await net.connect({ port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrnoError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '127.0.0.1', port });
    // The same fields and message node:net gives for the same refusal.
    const nodeError = await new Promise<NodeJS.ErrnoException & { address?: string; port?: number }>((resolve) => {
      nodeNet.connect(port, '127.0.0.1').on('error', resolve);
    });
    expect(nodeError).toMatchObject({ code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '127.0.0.1', port });
    expect((error as Error).message).toBe(nodeError.message);
  });

  it('names the address of a port in use, as node:net does', () => {
    const first = net.listen({ port: 0 }, () => {});
    try {
      expect(() => net.listen({ port: first.port }, () => {})).toThrow(
        expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port: first.port, message: `bind EADDRINUSE 127.0.0.1:${first.port}` }) as Error,
      );
    } finally {
      first.close();
    }
  });

  it('times out and aborts a connect that the kernel leaves pending (full backlog)', async () => {
    // A listener that never accepts, with backlog 0: once its queue is full the kernel drops further SYNs and the
    // next connect stays in progress.
    const server = net.listen({ port: 0, backlog: 0 }, () => {});
    server.unref();
    // Stop accepting: close the watcher by replacing the listener with one that is never reached.
    (server as unknown as { watcher?: { close(): void } }).watcher?.close();
    const fillers: Socket[] = [];
    let pending: Promise<Socket> | undefined;
    for (let i = 0; i < 8; i++) {
      const attempt = net.connect({ port: server.port, timeout: 300 });
      const settled = await Promise.race([attempt.then(() => 'ok', () => 'failed'), rt.sleep(100).then(() => 'pending')]);
      if (settled === 'ok') fillers.push(await attempt);
      else if (settled === 'pending') {
        pending = attempt;
        break;
      }
    }
    expect(pending).toBeDefined();
    const error = await (pending as Promise<Socket>).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_FDLOOP_TIMEOUT', operation: 'connect' });

    const controller = new AbortController();
    const aborted = net.connect({ port: server.port, signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    for (const s of fillers) s.close();
    server.close();
  });

  it('destroys an idle socket with a TimeoutError', async () => {
    const server = net.listen({ port: 0 }, () => {});
    const client = await net.connect({ port: server.port });
    const closed = new Promise<Error | undefined>((resolve) => client.handle({ close: (e) => resolve(e) }));
    client.setTimeout(50);
    const error = await closed;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(() => client.write('x')).toThrow(SocketClosedError);
    server.close();
  });

  it('interoperates with node:net in both directions', async () => {
    const nodeServer = nodeNet.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => nodeServer.listen(0, '127.0.0.1', r));
    const port = (nodeServer.address() as nodeNet.AddressInfo).port;
    const client = await net.connect({ port });
    client.write('to node');
    expect(String(await client.read())).toBe('to node');
    client.close();
    await new Promise((r) => nodeServer.close(r));

    const server = echoServer({ port: 0 });
    const nodeClient = nodeNet.connect(server.port, '127.0.0.1');
    const echoed = await new Promise<string>((resolve) => {
      nodeClient.on('data', (d) => resolve(d.toString()));
      nodeClient.write('from node');
    });
    expect(echoed).toBe('from node');
    nodeClient.destroy();
    server.close();
  });
});

function collectHash(socket: Socket, total: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let seen = 0;
    socket.handle({
      data: (chunk) => {
        hash.update(chunk);
        seen += chunk.length;
        if (seen === total) resolve(hash.digest('hex'));
      },
      close: (error) => error && reject(error),
    });
  });
}

describe('unix sockets', () => {
  it('streams over a unix path and removes the path on close', async () => {
    const path = join(dir, 's.sock');
    const server = echoServer({ path });
    expect(server.path).toBe(path);
    const client = await net.connect({ path });
    client.write('unix');
    expect(String(await client.read())).toBe('unix');
    expect(client.remoteAddress()).toEqual({ family: 'unix', address: path, port: 0 });
    client.close();
    server.close();
    await expect(net.connect({ path })).rejects.toMatchObject({ code: 'ENOENT', syscall: 'connect' });
  });

  it('refuses a path in use with EADDRINUSE unless unlinkPath', async () => {
    const path = join(dir, 'busy.sock');
    const first = echoServer({ path });
    expect(() => echoServer({ path })).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind' }) as Error);
    first.close();
  });

  it('exchanges unix datagrams', async () => {
    const a = join(dir, 'a.dgram');
    const b = join(dir, 'b.dgram');
    const got = new Promise<[string, string]>((resolve) => {
      net.unixDatagram({ path: a }, (msg, from, self) => {
        resolve([msg.toString(), from.address]);
        self.close();
      });
    });
    const sender = net.unixDatagram({ path: b });
    expect(sender.send('dgram', { path: a })).toBe(true);
    expect(await got).toEqual(['dgram', b]);
    sender.close();
  });
});

describe('UDP', () => {
  for (const [type, host] of [['udp4', '127.0.0.1'], ['udp6', '::1']] as const) {
    it(`round-trips datagrams over ${type}`, async () => {
      const server = net.udp({ type, host }, (msg, from, self) => self.send(Buffer.from(msg.toString().toUpperCase()), { host: from.address, port: from.port }));
      const reply = new Promise<string>((resolve) => {
        const client = net.udp({ type, host }, (msg) => {
          resolve(msg.toString());
          client.close();
        });
        client.send('ping', { host, port: server.port });
      });
      expect(await reply).toBe('PING');
      server.close();
    });
  }
});

describe('adopt and errors', () => {
  it('adopts a listening socket, a connected socket and a datagram socket', async () => {
    const listener = sys.tcpListen('127.0.0.1', 0);
    const server = net.adopt(listener.fd, (socket) => socket.handle({ data: (c) => socket.write(Buffer.from(c)) }));
    expect(server).toBeInstanceOf(Server);
    const [a, b] = sys.socketpair('stream');
    const sa = net.adopt(a) as Socket;
    const sb = net.adopt(b) as Socket;
    expect(sa).toBeInstanceOf(Socket);
    sa.write('pair');
    expect(String(await sb.read())).toBe('pair');
    const [d1, d2] = sys.socketpair('dgram');
    expect(net.adopt(d1)).toBeInstanceOf(DatagramSocket);
    sys.close(d2);
    const client = await net.connect({ port: (server as Server).port });
    client.write('adopted');
    expect(String(await client.read())).toBe('adopted');
    sa.close();
    sb.close();
    client.close();
    (server as Server).close();
  });

  it('refuses to adopt a pipe with ENOTSOCK', () => {
    const [r, w] = sys.pipe();
    expect(() => net.adopt(r)).toThrow(expect.objectContaining({ code: 'ENOTSOCK' }) as Error);
    sys.close(r);
    sys.close(w);
  });

  it('validates addresses and reports a missing backend extension', async () => {
    expect(() => net.listen({ host: 'example.com' }, () => {})).toThrow(/address literal/);
    await expect(net.connect({ port: 0 })).rejects.toThrow(/port/);
    const bare = createRuntime({ backend: { ...epoll(), net: undefined } });
    expect(() => new NetApi(bare)).toThrow(UnsupportedError);
    await bare.close();
  });

  it('closes everything it opened when the runtime closes', async () => {
    const server = echoServer({ port: 0 });
    const client = await net.connect({ port: server.port });
    await rt.close();
    expect(server.closed).toBe(true);
    expect(client.closed).toBe(true);
  });
});

// mod-net's own behaviour on epoll (timeouts, pause/resume, validation, teardown). The scenarios every backend
// shares (echo, half-close, adopt, UDP, unix, Node-shaped errors) run from suite.test.ts through runNetSuite.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, SocketClosedError, TimeoutError, UnsupportedError, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { NetApi, Server, Socket, netModule, type NetApi as Api } from '../src/index.js';

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

function echoServer(options: Parameters<NetApi['listen']>[0]): Server {
  return net.listen(options, (socket) => {
    socket.handle({ data: (chunk) => socket.write(Buffer.from(chunk)) });
  });
}

describe('TCP', () => {
  it('holds writes for a paused reader past the high-water mark and delivers 8 MiB intact on resume', async () => {
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
  it('refuses a path in use with EADDRINUSE unless unlinkPath', async () => {
    const path = join(dir, 'busy.sock');
    const first = echoServer({ path });
    expect(() => echoServer({ path })).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind' }) as Error);
    first.close();
  });

});


describe('adopt and errors', () => {
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

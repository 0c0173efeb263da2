/**
 * node:net over unix domain sockets: libuv's own epoll loop, streams, 'data' events and socket.write().
 * node:net cannot watch a pipe or an eventfd it did not create, so it uses its own connected unix sockets.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CHECK_EVERY, type ChildParams, type Sample } from '../common.js';

const IO = 'net.Socket write() and \'data\' events over unix domain sockets';

interface Connected {
  readonly server: net.Server;
  readonly clients: net.Socket[];
  readonly accepted: net.Socket[];
  readonly cleanup: () => void;
}

/** `count` connected unix socket pairs: each client has exactly one peer among the accepted sockets. */
async function connectPairs(count: number): Promise<Connected> {
  const dir = mkdtempSync(join(tmpdir(), 'fdloop-bench-'));
  const path = join(dir, 's.sock');
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => {
    accepted.push(socket);
    socket.pause();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, backlog: 1024 }, () => resolve());
  });
  const clients: net.Socket[] = [];
  // Connect in small batches: a unix socket's connect() fails with EAGAIN once the listen backlog is full.
  const BATCH = 256;
  for (let i = 0; i < count; i += BATCH) {
    const batch = Math.min(BATCH, count - i);
    const want = accepted.length + batch;
    await Promise.all(
      Array.from({ length: batch }, () =>
        new Promise<void>((resolve, reject) => {
          const c = net.createConnection({ path }, () => resolve());
          c.once('error', reject);
          clients.push(c);
        }),
      ),
    );
    while (accepted.length < want) await new Promise((r) => setImmediate(r));
  }
  // accepted[i] need not be the peer of clients[i]; no benchmark relies on it (P1 has one pair, P2 only counts).
  return {
    server,
    clients,
    accepted,
    cleanup: () => {
      for (const s of clients) s.destroy();
      for (const s of accepted) s.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function p1(params: ChildParams): Promise<Sample> {
  const setupStart = performance.now();
  const { clients, accepted, cleanup } = await connectPairs(1);
  const client = clients[0] as net.Socket;
  const serverSide = accepted[0] as net.Socket;
  const one = Buffer.from('x');
  serverSide.on('data', () => {
    serverSide.write(one);
  });
  serverSide.resume();
  const setupMs = performance.now() - setupStart;

  let trips = 0;
  let start = 0;
  let limit = 0;
  let done: ((s: Sample) => void) | undefined;
  client.on('data', () => {
    trips++;
    if (trips % CHECK_EVERY === 0) {
      const elapsed = performance.now() - start;
      if (elapsed >= limit) {
        const finish = done;
        done = undefined;
        finish?.({ ops: trips, seconds: elapsed / 1000 });
        return;
      }
    }
    client.write(one);
  });

  const measure = (seconds: number): Promise<Sample> =>
    new Promise((resolve) => {
      trips = 0;
      limit = seconds * 1000;
      done = resolve;
      start = performance.now();
      client.write(one);
    });

  await measure(params.warmup);
  const sample = await measure(params.seconds);
  cleanup();
  // client, accepted socket, listening socket
  return { ...sample, fds: 3, io: IO, setupMs };
}

export async function p2(params: ChildParams): Promise<Sample> {
  const n = params.pairs;
  const setupStart = performance.now();
  const { clients, accepted, cleanup } = await connectPairs(n);
  const one = Buffer.from('x');

  let handled = 0;
  let onRoundDone: () => void = () => {};
  // Every accepted socket counts each 1-byte message as one event. Which client feeds which accepted socket does
  // not matter: every client writes exactly one byte per round and every accepted socket has exactly one peer.
  for (const s of accepted) {
    s.on('data', (chunk: Buffer) => {
      handled += chunk.length;
      if (handled === n) onRoundDone();
    });
    s.resume();
  }
  const setupMs = performance.now() - setupStart;

  const signalAll = (): void => {
    handled = 0;
    for (let i = 0; i < n; i++) (clients[i] as net.Socket).write(one);
  };

  const measure = (seconds: number): Promise<Sample> =>
    new Promise((resolve) => {
      let rounds = 0;
      const start = performance.now();
      const limit = seconds * 1000;
      onRoundDone = () => {
        rounds++;
        const elapsed = performance.now() - start;
        if (elapsed >= limit) {
          onRoundDone = () => {};
          resolve({ ops: rounds * n, rounds, seconds: elapsed / 1000 });
          return;
        }
        signalAll();
      };
      signalAll();
    });

  await measure(params.warmup);
  const sample = await measure(params.seconds);
  cleanup();
  // n clients + n accepted sockets + the listening socket
  return { ...sample, fds: 2 * n + 1, perRound: n, io: IO, setupMs };
}

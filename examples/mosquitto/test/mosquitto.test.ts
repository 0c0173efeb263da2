// The libmosquitto binding against a real mosquitto broker on 127.0.0.1 (started per test file on a free port):
// connect, subscribe, publish at QoS 0/1/2 and receive its own messages, 10,000 messages with none lost, a broker
// restart survived by reconnecting and resubscribing, clean shutdown, worker threads, and bad input (a port
// nothing listens on → ECONNREFUSED as an ErrnoError; calls after destroy → ClosedError).
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelledError,
  ClosedError,
  ErrnoError,
  InvalidArgumentError,
  LibraryError,
  createRuntime,
  type Runtime,
} from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { MqttClient, type DisconnectInfo, type MqttClientOptions, type MqttMessage } from '../src/index.js';
import { Broker, freePort } from './broker.js';

let broker: Broker;
const runtimes: Runtime[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  // The worker fixture loads the built package (dist/) and the addon (build/Release).
  for (const file of ['../dist/index.js', '../build/Release/fdloop_mosquitto.node']) {
    if (!existsSync(new URL(file, import.meta.url))) {
      throw new Error(`${file} is missing: run \`npm run build -w @fdloop/example-mosquitto\` (needs libmosquitto-dev)`);
    }
  }
  broker = await Broker.start();
});
afterAll(async () => {
  await broker?.dispose();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const rt of runtimes.splice(0)) await rt.close().catch(() => {});
});

function runtime(): Runtime {
  const rt = createRuntime({ backend: epoll() });
  runtimes.push(rt);
  return rt;
}
function client(rt: Runtime, options: MqttClientOptions = {}): MqttClient {
  const c = new MqttClient(rt, options);
  clients.push(c);
  return c;
}
/** Resolve when `cond()` holds; a guard against hangs, never a timing expectation. */
async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
let topicSeq = 0;
const uniqueTopic = (): string => `fdloop/test/${process.pid}/${++topicSeq}`;

describe('MqttClient against a real broker', () => {
  it('connects, subscribes, publishes at QoS 0, 1 and 2 and receives its own messages', async () => {
    const rt = runtime();
    const c = client(rt);
    const got: MqttMessage[] = [];
    c.on('message', (m) => got.push(m));
    const connects: boolean[] = [];
    c.on('connect', (info) => connects.push(info.reconnect));
    await c.connect('127.0.0.1', broker.port);
    expect(c.connected).toBe(true);
    expect(c.fd).toBeGreaterThanOrEqual(0);
    expect(connects).toEqual([false]);
    const topic = uniqueTopic();
    expect(await c.subscribe(`${topic}/#`, 2)).toBe(2);
    await c.publish(`${topic}/q0`, 'zero', { qos: 0 });
    await c.publish(`${topic}/q1`, Buffer.from('one'), { qos: 1 });
    await c.publish(`${topic}/q2`, new Uint8Array([0, 255, 2]), { qos: 2 });
    await until(() => got.length === 3, 'three messages');
    const byTopic = new Map(got.map((m) => [m.topic, m]));
    expect(byTopic.get(`${topic}/q0`)?.payload.toString()).toBe('zero');
    expect(byTopic.get(`${topic}/q0`)?.qos).toBe(0);
    expect(byTopic.get(`${topic}/q1`)?.payload.toString()).toBe('one');
    expect(byTopic.get(`${topic}/q1`)?.qos).toBe(1);
    expect([...(byTopic.get(`${topic}/q2`)?.payload ?? [])]).toEqual([0, 255, 2]);
    expect(byTopic.get(`${topic}/q2`)?.qos).toBe(2);
    expect(got.every((m) => m.retain === false)).toBe(true);

    // A retained message comes back with retain set to a new subscriber.
    await c.publish(`${topic}/retained`, 'kept', { qos: 1, retain: true });
    const other = client(rt);
    const retained: MqttMessage[] = [];
    other.on('message', (m) => retained.push(m));
    await other.connect('127.0.0.1', broker.port);
    await other.subscribe(`${topic}/retained`, 1);
    await until(() => retained.length === 1, 'the retained message');
    expect(retained[0]?.retain).toBe(true);
    await c.publish(`${topic}/retained`, '', { qos: 1, retain: true }); // clear it
    await other.unsubscribe(`${topic}/retained`);
  });

  it('unsubscribe() stops delivery (checked against a marker message sent after it)', async () => {
    const rt = runtime();
    const c = client(rt);
    const topic = uniqueTopic();
    const got: string[] = [];
    c.on('message', (m) => got.push(`${m.topic.endsWith('/marker') ? 'marker' : 'data'}:${m.payload.toString()}`));
    await c.connect('127.0.0.1', broker.port);
    await c.subscribe(`${topic}/data`, 1);
    await c.subscribe(`${topic}/marker`, 1);
    await c.publish(`${topic}/data`, '1', { qos: 1 });
    await until(() => got.includes('data:1'), 'the first data message');
    await c.unsubscribe(`${topic}/data`);
    await c.publish(`${topic}/data`, '2', { qos: 1 });
    await c.publish(`${topic}/marker`, 'end', { qos: 1 });
    await until(() => got.includes('marker:end'), 'the marker');
    expect(got).toEqual(['data:1', 'marker:end']);
  });

  it('sends 10,000 QoS 1 messages to itself with none lost', async () => {
    const rt = runtime();
    const c = client(rt);
    const topic = uniqueTopic();
    const seen = new Set<number>();
    let count = 0;
    c.on('message', (m) => {
      count++;
      seen.add(Number(m.payload.toString()));
    });
    await c.connect('127.0.0.1', broker.port);
    await c.subscribe(topic, 1);
    const N = 10_000;
    const acks: Promise<void>[] = [];
    for (let i = 0; i < N; i++) acks.push(c.publish(topic, String(i), { qos: 1 }));
    await Promise.all(acks);
    await until(() => count >= N, `${N} messages`);
    expect(count).toBe(N);
    expect(seen.size).toBe(N);
    expect(Math.min(...seen)).toBe(0);
    expect(Math.max(...seen)).toBe(N - 1);
  });

  it('survives a broker restart: reconnects, resubscribes and receives again', async () => {
    const rt = runtime();
    const c = client(rt, { miscInterval: 20, reconnectDelay: 20, reconnectDelayMax: 200 });
    const topic = uniqueTopic();
    const got: string[] = [];
    const disconnects: DisconnectInfo[] = [];
    const connects: boolean[] = [];
    c.on('message', (m) => got.push(m.payload.toString()));
    c.on('disconnect', (d) => disconnects.push(d));
    c.on('connect', (d) => connects.push(d.reconnect));
    await c.connect('127.0.0.1', broker.port);
    await c.subscribe(topic, 1);
    await c.publish(topic, 'before', { qos: 1 });
    await until(() => got.includes('before'), 'the message before the restart');

    await broker.stop();
    await until(() => disconnects.length === 1, 'the disconnect event');
    expect(disconnects[0]?.willReconnect).toBe(true);
    expect(disconnects[0]?.error).toBeInstanceOf(Error);
    expect(c.state).toBe('reconnecting');
    expect(c.fd).toBe(-1);

    // While the broker is down, attempts fail (ECONNREFUSED) and are retried on the misc tick.
    const logBefore = broker.log.length;
    await broker.startProcess();
    await until(() => connects.length === 2, 'the reconnect');
    expect(connects).toEqual([false, true]);
    expect(c.connected).toBe(true);
    // The new broker process knows nothing of the old subscription: receiving proves the resubscribe (sent on
    // the new connection before the 'connect' event, so before this publish).
    await c.publish(topic, 'after', { qos: 1 });
    await until(() => got.includes('after'), 'the message after the restart');
    expect(broker.log.slice(logBefore)).toMatch(/Received SUBSCRIBE from/);
    expect(got).toContain('after');
  });

  it('shuts down cleanly: DISCONNECT reaches the broker, nothing is left pending and run() finishes', async () => {
    const rt = runtime();
    const id = `fdloop-clean-${process.pid}`;
    const c = client(rt, { clientId: id });
    const disconnects: DisconnectInfo[] = [];
    c.on('disconnect', (d) => disconnects.push(d));
    await c.connect('127.0.0.1', broker.port);
    await c.disconnect();
    expect(c.state).toBe('idle');
    expect(disconnects).toEqual([{ willReconnect: false }]);
    expect(rt.watcherCount).toBe(0);
    c.destroy();
    await rt.run(); // resolves: nothing keeps the runtime alive
    await until(() => broker.log.includes(`Client ${id} disconnected.`), 'the broker to log a clean disconnect');
    expect(broker.log).not.toContain(`Client ${id} closed its connection`);
  });

  it('disconnect() first completes every pending publish (QoS 1 and 2 acknowledged)', async () => {
    const rt = runtime();
    const c = client(rt);
    await c.connect('127.0.0.1', broker.port);
    const topic = uniqueTopic();
    const done: number[] = [];
    const all = Array.from({ length: 300 }, (_, i) => c.publish(topic, String(i), { qos: ((i % 2) + 1) as 1 | 2 }).then(() => done.push(i)));
    await c.disconnect();
    // Every publish had completed before DISCONNECT was sent (none was cancelled by it).
    expect(done.length).toBe(300);
    expect(c.state).toBe('idle');
    await Promise.all(all);
  });

  it('a client can be destroyed from its own message listener', async () => {
    const rt = runtime();
    const c = client(rt);
    const topic = uniqueTopic();
    let messages = 0;
    c.on('message', () => {
      messages++;
      c.destroy();
    });
    await c.connect('127.0.0.1', broker.port);
    await c.subscribe(topic, 0);
    const p = c.publish(topic, 'a', { qos: 1 }).catch((e: unknown) => e);
    void c.publish(topic, 'b', { qos: 1 }).catch(() => {});
    await until(() => c.state === 'destroyed', 'the destroy');
    expect(messages).toBe(1);
    expect(rt.watcherCount).toBe(0);
    const result = await p;
    expect(result === undefined || result instanceof CancelledError).toBe(true);
    await rt.run();
  });
});

describe('MqttClient in worker threads', () => {
  function runWorker(data: Record<string, unknown>): { worker: Worker; message: (type: string) => Promise<Record<string, unknown>> } {
    const worker = new Worker(new URL('./fixtures/worker-client.mjs', import.meta.url), { workerData: data });
    const messages: Record<string, unknown>[] = [];
    let error: Error | undefined;
    worker.on('message', (m: Record<string, unknown>) => messages.push(m));
    worker.on('error', (e) => (error = e));
    return {
      worker,
      async message(type) {
        await until(() => error !== undefined || messages.some((m) => m.type === type), `'${type}' from the worker`);
        if (error !== undefined) throw error;
        return messages.find((m) => m.type === type) as Record<string, unknown>;
      },
    };
  }

  it('two workers each drive their own client on their own loop', async () => {
    const a = runWorker({ port: broker.port, count: 500, mode: 'roundtrip' });
    const b = runWorker({ port: broker.port, count: 500, mode: 'roundtrip' });
    const [ra, rb] = await Promise.all([a.message('done'), b.message('done')]);
    expect(ra.received).toBe(500);
    expect(rb.received).toBe(500);
    await Promise.all([a.worker.terminate(), b.worker.terminate()]);
  });

  it('terminating a worker while it floods the broker frees its client (environment cleanup hook)', async () => {
    const w = runWorker({ port: broker.port, count: 0, mode: 'flood' });
    await w.message('flooding');
    const before = broker.log.length;
    await w.worker.terminate();
    // The worker's socket was closed by mosquitto_destroy in the cleanup hook: the broker sees the connection go.
    await until(() => /closed its connection|disconnected/.test(broker.log.slice(before)), 'the broker to see the socket closed');
    // The main thread still works after the teardown.
    const rt = runtime();
    const c = client(rt);
    await c.connect('127.0.0.1', broker.port);
    expect(c.connected).toBe(true);
  });
});

describe('MqttClient bad input', () => {
  it('a port nothing listens on rejects with ECONNREFUSED as an ErrnoError, and the client can connect afterwards', async () => {
    const rt = runtime();
    const c = client(rt);
    const port = await freePort();
    const err = await c.connect('127.0.0.1', port).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ErrnoError);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
    expect((err as ErrnoError).errno).toBeLessThan(0);
    expect(c.state).toBe('idle');
    expect(rt.watcherCount).toBe(0);
    await c.connect('127.0.0.1', broker.port);
    expect(c.connected).toBe(true);
  });

  it('a broker that refuses the client rejects connect() with a LibraryError (CONNACK) and does not reconnect', async () => {
    const strict = await Broker.start({ allowAnonymous: false });
    try {
      const rt = runtime();
      const c = client(rt, { miscInterval: 5, reconnectDelay: 0 });
      const err = await c.connect('127.0.0.1', strict.port).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LibraryError);
      expect(err).toMatchObject({ code: 'ERR_FDLOOP_LIBRARY', libraryCodeName: 'CONNACK', libraryCode: 5 });
      expect((err as Error).message).toMatch(/not authori[sz]ed/i);
      await until(() => c.fd === -1, 'the refused socket to be closed');
      expect(c.state).toBe('idle');
      await rt.run(); // nothing keeps running: no reconnect loop after a refusal
    } finally {
      await strict.dispose();
    }
  });

  it('every call after destroy throws ClosedError; pending promises reject with CancelledError', async () => {
    const rt = runtime();
    const c = client(rt);
    await c.connect('127.0.0.1', broker.port);
    const pending = c.subscribe(uniqueTopic(), 1).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    c.destroy();
    c.destroy(); // idempotent
    const settled = await pending;
    expect(settled === 'resolved' || settled instanceof CancelledError).toBe(true);
    expect(() => c.connect('127.0.0.1', broker.port)).toThrow(ClosedError);
    expect(() => c.subscribe('a')).toThrow(ClosedError);
    expect(() => c.unsubscribe('a')).toThrow(ClosedError);
    expect(() => c.publish('a', 'b')).toThrow(expect.objectContaining({ code: 'ERR_FDLOOP_CLOSED' }));
    expect(() => c.disconnect()).toThrow(ClosedError);
    expect(c.fd).toBe(-1);
    expect(rt.watcherCount).toBe(0);
  });

  it('refuses bad arguments with InvalidArgumentError and a second connect with LibraryError', async () => {
    const rt = runtime();
    expect(() => new MqttClient(rt, { keepalive: 1 })).toThrow(InvalidArgumentError);
    expect(() => new MqttClient(rt, { clientId: '' })).toThrow(InvalidArgumentError);
    const c = client(rt);
    expect(() => c.publish('', 'x')).toThrow(InvalidArgumentError);
    expect(() => c.publish('t', 'x', { qos: 3 as 0 })).toThrow(/qos/);
    expect(() => c.publish('t', 42 as unknown as string)).toThrow(/payload/);
    expect(() => c.subscribe('t', -1 as 0)).toThrow(InvalidArgumentError);
    expect(() => c.connect('127.0.0.1', 0)).toThrow(/port/);
    expect(() => c.on('nope' as 'message', () => {})).toThrow(InvalidArgumentError);
    // Publishing while not connected is libmosquitto's MOSQ_ERR_NO_CONN.
    await expect(c.publish('t', 'x')).rejects.toMatchObject({ code: 'ERR_FDLOOP_LIBRARY', libraryCodeName: 'MOSQ_ERR_NO_CONN' });
    const connecting = c.connect('127.0.0.1', broker.port);
    expect(() => c.connect('127.0.0.1', broker.port)).toThrow(LibraryError);
    await connecting;
  });
});

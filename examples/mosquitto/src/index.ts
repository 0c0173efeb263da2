/**
 * `@fdloop/example-mosquitto`: an MQTT client built on Debian's libmosquitto, driven entirely by the fdloop
 * runtime — the worked example of `docs/guides/c-library-socket.md`.
 *
 * libmosquitto owns its socket. It gives the descriptor out (`mosquitto_socket`), does its I/O in
 * `mosquitto_loop_read` / `mosquitto_loop_write`, wants `mosquitto_loop_misc` about once a second, and says
 * through `mosquitto_want_write` when output is queued. {@link MqttClient} hands exactly that to `ownFd()` of
 * `@fdloop/core`; libmosquitto's own thread (`mosquitto_loop_start`) is never used.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { epoll } from '@fdloop/backend-epoll';
 * import { MqttClient } from '@fdloop/example-mosquitto';
 *
 * const rt = createRuntime({ backend: epoll() });
 * const client = new MqttClient(rt);
 * client.on('message', (m) => console.log(m.topic, m.payload.toString()));
 * await client.connect('127.0.0.1', 1883);
 * await client.subscribe('greetings/#', 1);
 * await client.publish('greetings/world', 'hello', { qos: 1 });
 * await client.disconnect();
 * client.destroy();
 * ```
 *
 * @packageDocumentation
 */

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  CancelledError,
  ClosedError,
  InvalidArgumentError,
  LibraryError,
  errnoError,
  ownFd,
  type OwnedFd,
  type Runtime,
} from '@fdloop/core';
import { loadNative, type NativeBinding, type NativeClient } from './native.js';

/** libmosquitto's error numbers (`enum mosq_err_t` in mosquitto.h) that this wrapper names. */
export const MosqErr = {
  /** Success. */
  SUCCESS: 0,
  /** Out of memory. */
  NOMEM: 1,
  /** Protocol error. */
  PROTOCOL: 2,
  /** Invalid input. */
  INVAL: 3,
  /** Not connected. */
  NO_CONN: 4,
  /** The broker refused the connection. */
  CONN_REFUSED: 5,
  /** The connection was lost. */
  CONN_LOST: 7,
  /** Payload too large. */
  PAYLOAD_SIZE: 9,
  /** A system call failed: the errno is reported as an `ErrnoError`. */
  ERRNO: 14,
  /** The keep-alive timed out. */
  KEEPALIVE: 19,
} as const;

const MOSQ_NAMES: Record<number, string> = {
  1: 'MOSQ_ERR_NOMEM',
  2: 'MOSQ_ERR_PROTOCOL',
  3: 'MOSQ_ERR_INVAL',
  4: 'MOSQ_ERR_NO_CONN',
  5: 'MOSQ_ERR_CONN_REFUSED',
  6: 'MOSQ_ERR_NOT_FOUND',
  7: 'MOSQ_ERR_CONN_LOST',
  8: 'MOSQ_ERR_TLS',
  9: 'MOSQ_ERR_PAYLOAD_SIZE',
  10: 'MOSQ_ERR_NOT_SUPPORTED',
  11: 'MOSQ_ERR_AUTH',
  12: 'MOSQ_ERR_ACL_DENIED',
  13: 'MOSQ_ERR_UNKNOWN',
  14: 'MOSQ_ERR_ERRNO',
  15: 'MOSQ_ERR_EAI',
  18: 'MOSQ_ERR_MALFORMED_UTF8',
  19: 'MOSQ_ERR_KEEPALIVE',
  21: 'MOSQ_ERR_MALFORMED_PACKET',
  24: 'MOSQ_ERR_QOS_NOT_SUPPORTED',
  25: 'MOSQ_ERR_OVERSIZE_PACKET',
};

/** MQTT quality of service: 0 at most once, 1 at least once, 2 exactly once. */
export type QoS = 0 | 1 | 2;

/** Options of {@link MqttClient}. */
export interface MqttClientOptions {
  /** The client id. Defaults to `fdloop-<pid>-<random>`. */
  readonly clientId?: string;
  /** Start a clean session (the broker forgets subscriptions at disconnect). Defaults to `true`. */
  readonly cleanSession?: boolean;
  /** Keep-alive in seconds (5 to 65535): libmosquitto pings the broker from its misc tick. Defaults to `60`. */
  readonly keepalive?: number;
  /** Milliseconds between `mosquitto_loop_misc` calls (keep-alive, retries, reconnects). Defaults to `1000`. */
  readonly miscInterval?: number;
  /**
   * Reconnect after the connection is lost (not after {@link MqttClient.disconnect}), resubscribing to every
   * topic of {@link MqttClient.subscribe}. Defaults to `true`.
   */
  readonly reconnect?: boolean;
  /** First delay before a reconnect attempt, in ms; doubles per failed attempt. Defaults to `1000`. */
  readonly reconnectDelay?: number;
  /** The longest delay between reconnect attempts, in ms. Defaults to `30000`. */
  readonly reconnectDelayMax?: number;
  /** How many packets one readable event may read (`mosquitto_loop_read` reads one per call). Defaults to `64`. */
  readonly readRounds?: number;
}

/** Options of {@link MqttClient.publish}. */
export interface PublishOptions {
  /** Quality of service. Defaults to `0`. */
  readonly qos?: QoS;
  /** Ask the broker to retain the message. Defaults to `false`. */
  readonly retain?: boolean;
}

/** A message received on a subscribed topic. */
export interface MqttMessage {
  /** The topic it was published to. */
  readonly topic: string;
  /** The payload (a copy owned by JavaScript). */
  readonly payload: Buffer;
  /** The QoS it was delivered with. */
  readonly qos: QoS;
  /** Whether it is a retained message. */
  readonly retain: boolean;
  /** The message id (0 for QoS 0). */
  readonly mid: number;
}

/** Argument of the `connect` event. */
export interface ConnectInfo {
  /** `true` when this is an automatic reconnect (subscriptions have been sent again). */
  readonly reconnect: boolean;
}

/** Argument of the `disconnect` event. */
export interface DisconnectInfo {
  /** Why: an `ErrnoError` (`ECONNRESET`…) or a `LibraryError` (`MOSQ_ERR_CONN_LOST`…); absent after {@link MqttClient.disconnect}. */
  readonly error?: Error;
  /** Whether the client will try to reconnect. */
  readonly willReconnect: boolean;
}

/** The events of {@link MqttClient.on} and the argument each listener receives. */
export interface MqttClientEvents {
  /** A message arrived on a subscribed topic. */
  message: MqttMessage;
  /** The broker accepted the connection (also after each automatic reconnect). */
  connect: ConnectInfo;
  /** The connection ended. */
  disconnect: DisconnectInfo;
}

/** The state of an {@link MqttClient}. */
export type MqttClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnecting' | 'destroyed';

const enum Ev {
  Connect = 1,
  Disconnect = 2,
  Message = 3,
  Publish = 4,
  Subscribe = 5,
  Unsubscribe = 6,
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

const RESOURCE = 'MQTT client';

function intOption(name: string, value: unknown, dflt: number, min: number, max: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function validateTopic(topic: unknown): string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new InvalidArgumentError('topic', `must be a non-empty string, got ${typeof topic === 'string' ? "''" : typeof topic}`);
  }
  return topic;
}

function validateQos(qos: unknown): QoS {
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new InvalidArgumentError('qos', `must be 0, 1 or 2, got ${String(qos)}`);
  return qos;
}

/**
 * An MQTT 3.1.1 client on libmosquitto, driven by an fdloop {@link Runtime}. One client per
 * `struct mosquitto`; use it on the thread that owns the runtime (worker threads work, each with its own runtime).
 *
 * Methods validate their arguments and throw `InvalidArgumentError`; after {@link MqttClient.destroy} every
 * method throws `ClosedError` (`ERR_FDLOOP_CLOSED`). Failures reported by the network reject the returned
 * promise with an `ErrnoError` (`ECONNREFUSED`, `syscall: 'connect'`) or a `LibraryError`
 * (`ERR_FDLOOP_LIBRARY`, for example a broker refusing the connection).
 *
 * Listener exceptions go to the runtime's `onError` handler (after the remaining events of the batch were
 * delivered), like any exception thrown from a watcher callback.
 */
export class MqttClient {
  private readonly rt: Runtime;
  private readonly binding: NativeBinding;
  private readonly native: NativeClient;
  private readonly events: unknown[] = [];
  private readonly out = new Int32Array(2);
  private readonly owned: OwnedFd;
  private readonly keepalive: number;
  private readonly autoReconnect: boolean;
  private readonly reconnectDelay: number;
  private readonly reconnectDelayMax: number;
  private readonly readRounds: number;
  private readonly listeners: { [K in keyof MqttClientEvents]: Array<(arg: MqttClientEvents[K]) => void> } = {
    message: [],
    connect: [],
    disconnect: [],
  };
  private currentState: MqttClientState = 'idle';
  private host = '';
  private port = 0;
  private connectWaiter: Pending<void> | undefined;
  private disconnectWaiters: Array<Pending<void>> = [];
  private readonly publishes = new Map<number, Pending<void> & { qos: QoS }>();
  private readonly subscribes = new Map<number, Pending<QoS>>();
  private readonly unsubscribes = new Map<number, Pending<void>>();
  private readonly subscriptions = new Map<string, QoS>();
  private nextAttempt = 0;
  private attemptDelay: number;
  private hasConnected = false;
  private disconnectSent = false;

  /**
   * Create a client (`mosquitto_new`). Nothing happens on the network until {@link MqttClient.connect}.
   * @throws InvalidArgumentError for bad options; an Error if libmosquitto cannot create the client.
   */
  constructor(rt: Runtime, options: MqttClientOptions = {}) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object');
    const clientId = options.clientId ?? `fdloop-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    if (typeof clientId !== 'string' || clientId.length === 0 || Buffer.byteLength(clientId) > 65535) {
      throw new InvalidArgumentError('clientId', 'must be a non-empty string of at most 65535 bytes');
    }
    this.keepalive = intOption('keepalive', options.keepalive, 60, 5, 65535);
    const miscInterval = intOption('miscInterval', options.miscInterval, 1000, 1, 3_600_000);
    this.reconnectDelay = intOption('reconnectDelay', options.reconnectDelay, 1000, 0, 3_600_000);
    this.reconnectDelayMax = intOption('reconnectDelayMax', options.reconnectDelayMax, 30_000, 0, 3_600_000);
    this.readRounds = intOption('readRounds', options.readRounds, 64, 1, 1 << 20);
    this.autoReconnect = options.reconnect ?? true;
    this.attemptDelay = this.reconnectDelay;
    this.rt = rt;
    this.binding = loadNative();
    this.native = new this.binding.Client(clientId, options.cleanSession ?? true, this.events, this.out);
    try {
      this.owned = ownFd(
        rt,
        {
          fd: () => this.native.socket(),
          wantWrite: () => this.native.wantWrite(),
          read: () => {
            this.native.loopRead(this.readRounds);
            this.drain();
          },
          write: () => {
            this.native.loopWrite();
            this.drain();
          },
          misc: () => this.misc(),
          active: () => this.currentState === 'connecting' || this.currentState === 'reconnecting',
        },
        { miscInterval },
      );
    } catch (err) {
      this.native.destroy();
      throw err;
    }
  }

  /** libmosquitto's version, for example `'2.0.11'`. */
  static libraryVersion(): string {
    return loadNative().version;
  }

  /** The current state. */
  get state(): MqttClientState {
    return this.currentState;
  }

  /** Whether the broker accepted the connection and it is up. */
  get connected(): boolean {
    return this.currentState === 'connected';
  }

  /** The socket libmosquitto is using, or `-1` (for tests and tracing; never read or close it). */
  get fd(): number {
    return this.owned.fd;
  }

  /**
   * Listen for `message`, `connect` or `disconnect`. Returns the client.
   * @example
   * ```ts
   * client.on('message', ({ topic, payload }) => console.log(topic, payload.toString()));
   * ```
   */
  on<K extends keyof MqttClientEvents>(event: K, listener: (arg: MqttClientEvents[K]) => void): this {
    const list = this.listeners[event] as Array<(arg: MqttClientEvents[K]) => void> | undefined;
    if (list === undefined) throw new InvalidArgumentError('event', `must be 'message', 'connect' or 'disconnect', got ${String(event)}`);
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener', 'must be a function');
    list.push(listener);
    return this;
  }

  /** Remove a listener added with {@link MqttClient.on}. Returns the client. */
  off<K extends keyof MqttClientEvents>(event: K, listener: (arg: MqttClientEvents[K]) => void): this {
    const list = this.listeners[event] as Array<(arg: MqttClientEvents[K]) => void> | undefined;
    const i = list?.indexOf(listener) ?? -1;
    if (list !== undefined && i >= 0) list.splice(i, 1);
    return this;
  }

  /**
   * Connect to a broker (`mosquitto_connect_async`: the TCP connect does not block). A host name is resolved
   * with `dns.lookup` first, on libuv's thread pool, so libmosquitto's own `getaddrinfo` never blocks the thread.
   * Resolves when the broker accepted the connection (CONNACK).
   * @param host - a host name or IP address. Defaults to `'127.0.0.1'`.
   * @param port - 1 to 65535. Defaults to `1883`.
   * @returns rejects with an `ErrnoError` (`code: 'ECONNREFUSED'`, `syscall: 'connect'`) when nothing listens,
   *   with a `LibraryError` when the broker refuses the connection.
   * @throws ClosedError after destroy; InvalidArgumentError; LibraryError if already connecting or connected.
   */
  connect(host = '127.0.0.1', port = 1883): Promise<void> {
    this.assertUsable('connect');
    if (typeof host !== 'string' || host.length === 0) throw new InvalidArgumentError('host', 'must be a non-empty string');
    intOption('port', port, 1883, 1, 65535);
    if (this.currentState !== 'idle') {
      throw new LibraryError('libmosquitto', MosqErr.INVAL, 'MOSQ_ERR_INVAL', `connect() while ${this.currentState}`);
    }
    this.currentState = 'connecting';
    this.hasConnected = false;
    return new Promise<void>((resolve, reject) => {
      this.connectWaiter = { resolve, reject };
      const start = (address: string): void => {
        if (this.currentState !== 'connecting') return; // destroyed while resolving
        this.host = address;
        this.port = port;
        const rc = this.native.connect(address, port, this.keepalive);
        this.drain();
        if (rc !== MosqErr.SUCCESS) {
          this.failConnect(this.error(rc, this.out[1] ?? 0, 'connect', `${address}:${port}`));
          return;
        }
        this.owned.sync();
      };
      if (isIP(host) !== 0) {
        start(host);
      } else {
        lookup(host).then(
          (r) => start(r.address),
          (err: unknown) => this.failConnect(err instanceof Error ? err : new Error(String(err))),
        );
      }
    });
  }

  /**
   * Subscribe to a topic filter (`mosquitto_subscribe`). Resolves with the QoS the broker granted (SUBACK).
   * The subscription is remembered and sent again after every automatic reconnect.
   * @param qos - Defaults to `0`.
   * @throws ClosedError after destroy; InvalidArgumentError.
   */
  subscribe(topic: string, qos: QoS = 0): Promise<QoS> {
    this.assertUsable('subscribe');
    validateTopic(topic);
    validateQos(qos);
    this.subscriptions.set(topic, qos);
    const rc = this.native.subscribe(topic, qos);
    const mid = this.out[0] ?? 0;
    const errno = this.out[1] ?? 0;
    if (rc !== MosqErr.SUCCESS) {
      this.drain();
      if (rc === MosqErr.NO_CONN && this.currentState === 'reconnecting') {
        // Remembered: it is sent on reconnect. Resolve then with whatever the broker grants.
        return Promise.resolve(qos);
      }
      return Promise.reject(this.error(rc, errno, 'subscribe'));
    }
    const p = new Promise<QoS>((resolve, reject) => this.subscribes.set(mid, { resolve, reject }));
    this.drain();
    this.owned.sync();
    return p;
  }

  /**
   * Unsubscribe (`mosquitto_unsubscribe`); resolves on UNSUBACK. The topic is no longer resubscribed.
   * @throws ClosedError after destroy; InvalidArgumentError.
   */
  unsubscribe(topic: string): Promise<void> {
    this.assertUsable('unsubscribe');
    validateTopic(topic);
    this.subscriptions.delete(topic);
    const rc = this.native.unsubscribe(topic);
    const mid = this.out[0] ?? 0;
    if (rc !== MosqErr.SUCCESS) {
      this.drain();
      return Promise.reject(this.error(rc, this.out[1] ?? 0, 'unsubscribe'));
    }
    const p = new Promise<void>((resolve, reject) => this.unsubscribes.set(mid, { resolve, reject }));
    this.drain();
    this.owned.sync();
    return p;
  }

  /**
   * Publish a message (`mosquitto_publish`). Resolves when libmosquitto reports it done: written to the socket
   * for QoS 0, acknowledged (PUBACK) for QoS 1, completed (PUBCOMP) for QoS 2. A QoS 1 or 2 message published
   * while the client is reconnecting is queued by libmosquitto and sent after the reconnect.
   * @param payload - a string (UTF-8) or bytes.
   * @throws ClosedError after destroy; InvalidArgumentError.
   */
  publish(topic: string, payload: string | Uint8Array, options: PublishOptions = {}): Promise<void> {
    this.assertUsable('publish');
    validateTopic(topic);
    const qos = validateQos(options.qos ?? 0);
    let bytes: Uint8Array;
    if (typeof payload === 'string') bytes = Buffer.from(payload);
    else if (payload instanceof Uint8Array) bytes = payload;
    else throw new InvalidArgumentError('payload', `must be a string or a Uint8Array, got ${typeof payload}`);
    const rc = this.native.publish(topic, bytes, qos, options.retain === true);
    const mid = this.out[0] ?? 0;
    if (rc !== MosqErr.SUCCESS) {
      const error = this.error(rc, this.out[1] ?? 0, 'publish');
      this.drain();
      return Promise.reject(error);
    }
    const p = new Promise<void>((resolve, reject) => this.publishes.set(mid, { resolve, reject, qos }));
    this.drain();
    this.owned.sync();
    return p;
  }

  /**
   * Disconnect cleanly: wait until every pending {@link MqttClient.publish} is done (acknowledged for QoS 1 and
   * 2, written for QoS 0), then send DISCONNECT (`mosquitto_disconnect`); no reconnect follows. Resolves when
   * the socket is closed; at once when not connected. Use {@link MqttClient.destroy} to drop everything now.
   * @throws ClosedError after destroy.
   */
  disconnect(): Promise<void> {
    this.assertUsable('disconnect');
    if (this.currentState === 'idle') return Promise.resolve();
    if (this.currentState === 'connecting' || this.currentState === 'reconnecting') {
      this.native.disconnect();
      this.drain();
      this.toIdle(new LibraryError('libmosquitto', MosqErr.NO_CONN, 'MOSQ_ERR_NO_CONN', 'disconnect() before the connection was established'));
      this.owned.sync();
      return Promise.resolve();
    }
    const p = new Promise<void>((resolve, reject) => this.disconnectWaiters.push({ resolve, reject }));
    if (this.currentState !== 'disconnecting') {
      this.currentState = 'disconnecting';
      this.disconnectSent = false;
      this.disconnectWhenFlushed();
    }
    return p;
  }

  /** Send DISCONNECT once every pending publish is done (a QoS 1/2 message acknowledged, a QoS 0 one written). */
  private disconnectWhenFlushed(): void {
    if (this.currentState !== 'disconnecting' || this.disconnectSent || this.publishes.size > 0) return;
    this.disconnectSent = true;
    const rc = this.native.disconnect();
    this.drain();
    if (rc !== MosqErr.SUCCESS && this.currentState === 'disconnecting') this.toIdle(undefined);
    this.owned.sync();
  }

  /**
   * Free the client now (`mosquitto_destroy`, which closes the socket without a DISCONNECT). Stops the watch and
   * the misc tick first, so libmosquitto is never called afterwards; pending promises reject with a
   * `CancelledError`. Idempotent. Every other method throws `ClosedError` afterwards.
   */
  destroy(): void {
    if (this.currentState === 'destroyed') return;
    this.currentState = 'destroyed';
    this.owned.close();
    this.native.destroy();
    this.events.length = 0;
    const cancelled = new CancelledError('the MQTT client was destroyed');
    this.connectWaiter?.reject(cancelled);
    this.connectWaiter = undefined;
    for (const w of this.disconnectWaiters.splice(0)) w.resolve();
    for (const map of [this.publishes, this.subscribes, this.unsubscribes] as Array<Map<number, Pending<never>>>) {
      for (const p of map.values()) p.reject(cancelled);
      map.clear();
    }
  }

  /** Same as {@link MqttClient.destroy}. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  // -------------------------------------------------------------------------------------------------------------

  private assertUsable(operation: string): void {
    if (this.currentState === 'destroyed' || this.rt.closed) throw new ClosedError(RESOURCE, operation);
  }

  private error(rc: number, errno: number, syscall: string, detail?: string): Error {
    if (rc === MosqErr.ERRNO && errno !== 0) return errnoError(errno, syscall, detail !== undefined ? { message: detail } : undefined);
    return new LibraryError('libmosquitto', rc, MOSQ_NAMES[rc] ?? 'MOSQ_ERR', this.binding.strerror(rc));
  }

  private failConnect(error: Error): void {
    if (this.currentState !== 'connecting') return;
    this.currentState = 'idle';
    const w = this.connectWaiter;
    this.connectWaiter = undefined;
    w?.reject(error);
    this.owned.sync();
  }

  private toIdle(error: Error | undefined): void {
    this.currentState = 'idle';
    const cancelled = error ?? new CancelledError('the MQTT client disconnected');
    this.connectWaiter?.reject(cancelled);
    this.connectWaiter = undefined;
    for (const w of this.disconnectWaiters.splice(0)) w.resolve();
    for (const map of [this.publishes, this.subscribes, this.unsubscribes] as Array<Map<number, Pending<never>>>) {
      for (const p of map.values()) p.reject(cancelled);
      map.clear();
    }
  }

  private misc(): void {
    this.native.loopMisc();
    this.drain();
    if (this.currentState === 'reconnecting' && performance.now() >= this.nextAttempt) {
      const rc = this.native.reconnect();
      this.drain();
      if (this.currentState !== 'reconnecting') return;
      if (rc !== MosqErr.SUCCESS) {
        this.scheduleReconnect();
        return;
      }
      // A new socket, possibly with the number of the one libmosquitto closed: watch it afresh.
      this.owned.reattach();
    }
  }

  private scheduleReconnect(): void {
    this.nextAttempt = performance.now() + this.attemptDelay;
    this.attemptDelay = Math.min(this.reconnectDelayMax, Math.max(1, this.attemptDelay * 2));
  }

  /** Deliver the events libmosquitto's callbacks queued during the last native call. */
  private drain(): void {
    if (this.events.length === 0) return;
    const ev = this.events.slice();
    this.events.length = 0;
    let firstError: unknown;
    const emit = <K extends keyof MqttClientEvents>(name: K, arg: MqttClientEvents[K]): void => {
      for (const l of [...this.listeners[name]] as Array<(a: MqttClientEvents[K]) => void>) {
        try {
          l(arg);
        } catch (err) {
          firstError ??= err;
        }
      }
    };
    let i = 0;
    while (i < ev.length && this.currentState !== 'destroyed') {
      const type = ev[i] as number;
      switch (type) {
        case Ev.Message: {
          const msg: MqttMessage = {
            mid: ev[i + 1] as number,
            topic: ev[i + 2] as string,
            payload: ev[i + 3] as Buffer,
            qos: ev[i + 4] as QoS,
            retain: ev[i + 5] as boolean,
          };
          i += 6;
          emit('message', msg);
          break;
        }
        case Ev.Publish: {
          const mid = ev[i + 1] as number;
          i += 2;
          const p = this.publishes.get(mid);
          this.publishes.delete(mid);
          p?.resolve();
          if (this.currentState === 'disconnecting' && this.publishes.size === 0) this.disconnectWhenFlushed();
          break;
        }
        case Ev.Subscribe: {
          const mid = ev[i + 1] as number;
          const granted = (ev[i + 2] as number[])[0] ?? 128;
          i += 3;
          const p = this.subscribes.get(mid);
          this.subscribes.delete(mid);
          if (granted === 0 || granted === 1 || granted === 2) p?.resolve(granted);
          else p?.reject(new LibraryError('libmosquitto', granted, 'SUBACK', 'the broker refused the subscription'));
          break;
        }
        case Ev.Unsubscribe: {
          const mid = ev[i + 1] as number;
          i += 2;
          const p = this.unsubscribes.get(mid);
          this.unsubscribes.delete(mid);
          p?.resolve();
          break;
        }
        case Ev.Connect: {
          const rc = ev[i + 1] as number;
          i += 2;
          this.onConnect(rc, emit);
          break;
        }
        case Ev.Disconnect: {
          const rc = ev[i + 1] as number;
          const errno = ev[i + 2] as number;
          i += 3;
          this.onDisconnect(rc, errno, emit);
          break;
        }
        default:
          throw new Error(`internal error: unknown event type ${String(type)} from the native client`);
      }
    }
    if (firstError !== undefined) throw firstError;
  }

  private onConnect(rc: number, emit: <K extends keyof MqttClientEvents>(name: K, arg: MqttClientEvents[K]) => void): void {
    if (rc !== 0) {
      // The broker answered CONNACK with a refusal; libmosquitto disconnects next.
      const error = new LibraryError('libmosquitto', rc, 'CONNACK', this.binding.connackString(rc));
      if (this.currentState === 'connecting') this.failConnect(error);
      return;
    }
    const reconnect = this.hasConnected;
    this.hasConnected = true;
    this.currentState = 'connected';
    this.attemptDelay = this.reconnectDelay;
    if (reconnect) {
      for (const [topic, qos] of this.subscriptions) this.native.subscribe(topic, qos);
    }
    const w = this.connectWaiter;
    this.connectWaiter = undefined;
    w?.resolve();
    emit('connect', { reconnect });
  }

  private onDisconnect(
    rc: number,
    errno: number,
    emit: <K extends keyof MqttClientEvents>(name: K, arg: MqttClientEvents[K]) => void,
  ): void {
    const state = this.currentState;
    // Already settled: a refused CONNACK (failConnect ran) or disconnect() during a connect attempt.
    if (state === 'idle' || state === 'destroyed') return;
    if (state === 'disconnecting' || (rc === 0 && state !== 'reconnecting')) {
      this.toIdle(undefined);
      emit('disconnect', { willReconnect: false });
      return;
    }
    const syscall = state === 'connecting' || (state === 'reconnecting' && !this.hasConnected) ? 'connect' : 'recv';
    const error = this.error(rc, errno, syscall, this.host !== '' ? `${this.host}:${this.port}` : undefined);
    if (state === 'connecting') {
      this.failConnect(error);
      return;
    }
    // Lost after it was up (or a reconnect attempt failed): reconnect, unless told not to.
    for (const [mid, p] of this.subscribes) {
      this.subscribes.delete(mid);
      p.reject(error);
    }
    for (const [mid, p] of this.unsubscribes) {
      this.unsubscribes.delete(mid);
      p.reject(error);
    }
    for (const [mid, p] of this.publishes) {
      // QoS 1 and 2 messages stay queued in libmosquitto and are sent again after the reconnect.
      if (p.qos === 0 || !this.autoReconnect) {
        this.publishes.delete(mid);
        p.reject(error);
      }
    }
    if (this.autoReconnect) {
      const first = state === 'connected';
      this.currentState = 'reconnecting';
      this.scheduleReconnect();
      if (first) emit('disconnect', { error, willReconnect: true });
    } else {
      this.toIdle(error);
      emit('disconnect', { error, willReconnect: false });
    }
  }
}

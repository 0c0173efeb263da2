/**
 * Loading `fdloop_mosquitto.node` and the exact shape of what it exports. Internal: the public API is
 * {@link MqttClient}.
 *
 * @module
 */

import { addonLoader } from '@fdloop/native-build';

/** One `struct mosquitto`. Methods return a `MOSQ_ERR_*` code; ids go to `state[0]`, errno to `state[1]`. */
export interface NativeClient {
  connect(host: string, port: number, keepalive: number): number;
  reconnect(): number;
  disconnect(): number;
  subscribe(topic: string, qos: number): number;
  unsubscribe(topic: string): number;
  publish(topic: string, payload: Uint8Array, qos: number, retain: boolean): number;
  loopRead(maxRounds: number): number;
  loopWrite(): number;
  loopMisc(): number;
  socket(): number;
  wantWrite(): boolean;
  destroy(): void;
}

/** Everything `fdloop_mosquitto.node` exports. */
export interface NativeBinding {
  readonly Client: new (clientId: string | null, cleanSession: boolean, events: unknown[], state: Int32Array) => NativeClient;
  strerror(rc: number): string;
  connackString(code: number): string;
  readonly version: string;
}

/**
 * Load the addon once per thread from `build/Release` (built by `npm run build`).
 * @throws AddonLoadError (from `@fdloop/native-build`) saying how to build it, with the file tried and why it failed.
 */
export const loadNative: () => NativeBinding = addonLoader<NativeBinding>({
  name: '@fdloop/example-mosquitto',
  addon: 'fdloop_mosquitto.node',
  root: new URL('../', import.meta.url),
  locations: ['build/Release'],
  hint: 'Build it with `npm run build -w @fdloop/example-mosquitto` (needs libmosquitto-dev).',
});

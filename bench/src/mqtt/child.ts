/**
 * One MQTT measurement in a fresh process: connect to the local broker, subscribe to a topic, and publish
 * messages to it, keeping at most `window` published-but-not-yet-received; the rate is measured messages divided
 * by the time from the first measured publish to the last measured message received back. Each message thus
 * crosses the client twice (out and back in) and the broker once.
 */

import { performance } from 'node:perf_hooks';
import { createRuntime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { MqttClient } from '@fdloop/example-mosquitto';
import mqtt from 'mqtt';
import { MQTT_RESULT_PREFIX, type MqttChildParams, type MqttSample } from './common.js';

const params = JSON.parse(process.argv[2] ?? '{}') as MqttChildParams;
const topic = `bench/${process.pid}`;
const payload = Buffer.alloc(params.size, 0x61);
const total = params.warmup + params.messages;

interface Driver {
  publish(): void;
  close(): Promise<void>;
}

function fail(error: unknown): never {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
}

/** Runs the publish/receive loop on top of a driver; resolves with the measured sample. */
function pump(start: (onMessage: () => void) => Promise<Driver>): Promise<MqttSample> {
  return new Promise<MqttSample>((resolve, reject) => {
    let published = 0;
    let received = 0;
    let t0 = 0;
    let cpu0: NodeJS.CpuUsage = process.cpuUsage();
    let driver: Driver | undefined;
    const fill = (): void => {
      while (published < total && published - received < params.window) {
        if (published === params.warmup) {
          t0 = performance.now();
          cpu0 = process.cpuUsage();
        }
        published++;
        driver?.publish();
      }
    };
    const onMessage = (): void => {
      received++;
      if (received === total) {
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const cpuSeconds = (cpu.user + cpu.system) / 1e6;
        driver?.close().then(() => resolve({ messages: params.messages, seconds, cpuSeconds }), reject);
        return;
      }
      fill();
    };
    start(onMessage).then((d) => {
      driver = d;
      if (params.warmup === 0) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
      }
      fill();
    }, reject);
  });
}

async function fdloopMosquitto(onMessage: () => void): Promise<Driver> {
  const rt = createRuntime({ backend: epoll() });
  const client = new MqttClient(rt, { clientId: `bench-fdloop-${process.pid}` });
  client.on('message', onMessage);
  await client.connect('127.0.0.1', params.port);
  await client.subscribe(topic, params.qos);
  return {
    publish: () => void client.publish(topic, payload, { qos: params.qos }).catch(fail),
    close: async () => {
      await client.disconnect();
      client.destroy();
      await rt.close();
    },
  };
}

async function npmMqtt(onMessage: () => void): Promise<Driver> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${params.port}`, {
    clientId: `bench-npm-${process.pid}`,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
  });
  client.on('message', onMessage);
  await client.subscribeAsync(topic, { qos: params.qos });
  return {
    publish: () => void client.publish(topic, payload, { qos: params.qos }, (err) => err && fail(err)),
    close: () => client.endAsync(),
  };
}

const start = params.contender === 'fdloop-mosquitto' ? fdloopMosquitto : npmMqtt;
pump(start).then((sample) => {
  process.stdout.write(`${MQTT_RESULT_PREFIX}${JSON.stringify(sample)}\n`);
}, fail);

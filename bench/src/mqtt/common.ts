/** What the MQTT benchmark's parent and child processes share. */

/** The two clients measured side by side. */
export const MQTT_CONTENDERS = ['fdloop-mosquitto', 'npm-mqtt'] as const;
/** One of {@link MQTT_CONTENDERS}. */
export type MqttContender = (typeof MQTT_CONTENDERS)[number];

/** What one child process measures (passed as JSON in argv[2]). */
export interface MqttChildParams {
  readonly contender: MqttContender;
  readonly port: number;
  readonly qos: 0 | 1;
  /** Unmeasured messages first (JIT warm-up, connection settled). */
  readonly warmup: number;
  /** Measured messages. */
  readonly messages: number;
  /** At most this many messages published but not yet received back. */
  readonly window: number;
  /** Payload size in bytes. */
  readonly size: number;
}

/** What a child prints on its last line, after `MQTTRESULT `. */
export interface MqttSample {
  readonly messages: number;
  /** Wall-clock time of the measured part. */
  readonly seconds: number;
  /** CPU time (user + system) the client process used during the measured part, in seconds. */
  readonly cpuSeconds: number;
}

export const MQTT_RESULT_PREFIX = 'MQTTRESULT ';

// A real mosquitto broker for the tests: `mosquitto -c <tmp conf>` listening on 127.0.0.1 at a free port, started
// as a child process (never as a service), restartable on the same port, and killed after the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port nothing listens on right now (bound to 127.0.0.1, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class Broker {
  readonly port: number;
  private readonly dir: string;
  private child: ChildProcess | undefined;
  /** Everything the broker printed (its log goes to stderr), across restarts. */
  log = '';

  private constructor(port: number, allowAnonymous: boolean) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'fdloop-mosquitto-'));
    writeFileSync(
      join(this.dir, 'mosquitto.conf'),
      [`listener ${port} 127.0.0.1`, `allow_anonymous ${allowAnonymous}`, 'persistence false', 'log_dest stderr', 'log_type all', ''].join('\n'),
    );
  }

  /** Start a broker; `allowAnonymous: false` makes it refuse every client of these tests (CONNACK 5). */
  static async start(options: { allowAnonymous?: boolean } = {}): Promise<Broker> {
    const b = new Broker(await freePort(), options.allowAnonymous ?? true);
    await b.startProcess();
    return b;
  }

  /** Start the broker process and wait until its port accepts connections. */
  async startProcess(): Promise<void> {
    const child = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    const failed = new Promise<never>((_, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}:\n${this.log}`)));
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const up = await Promise.race([canConnect(this.port), failed]);
      if (up) break;
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${this.port}:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
  }

  /** Stop the broker process (SIGTERM) and wait for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

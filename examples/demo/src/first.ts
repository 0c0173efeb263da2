/**
 * The first fdloop demo (`npm run start:first` in examples/demo; `npm start` runs the full demo in main.ts):
 *  1. a pipe written from a timer, read by a watcher callback until end of file;
 *  2. TCP urgent data (MSG_OOB) on a loopback connection, arriving as a PRIORITY event next to ordinary data;
 *  3. an interval timer that cancels itself after four ticks;
 * all traced with the thread name and tick markers, ending with FINISHED when `run()` resolves.
 *
 * Set FDLOOP_DEMO_QUIET=1 to hide the runtime's own trace lines and keep only the demo's prints.
 */

import { Interest, createRuntime, currentThread, print, printContent, type Runtime } from '@fdloop/core';
import { epoll, sys } from '@fdloop/backend-epoll';

const quiet = process.env['FDLOOP_DEMO_QUIET'] === '1';

function pipeWrittenFromTimer(rt: Runtime): void {
  const [readEnd, writeEnd] = sys.pipe();
  const buffer = Buffer.alloc(4096);
  print(`pipe: read end fd ${readEnd}, write end fd ${writeEnd}`);

  const watcher = rt.watch(readEnd, Interest.READABLE, (ev) => {
    for (;;) {
      const n = sys.read(readEnd, buffer);
      if (n === sys.WOULD_BLOCK) break;
      if (n === 0) {
        print(`pipe: end of file (${ev.toString()}); closing the watcher and the read end`);
        watcher.close();
        sys.close(readEnd);
        return;
      }
      printContent('pipe: read', buffer.subarray(0, n));
    }
  });

  rt.setTimeout(() => {
    print('pipe: timer at 100 ms writes two lines');
    sys.write(writeEnd, Buffer.from('hello from a timer\nthrough a pipe\n'));
  }, 100);
  rt.setTimeout(() => {
    print('pipe: timer at 700 ms closes the write end');
    sys.close(writeEnd);
  }, 700);
}

async function tcpUrgentData(rt: Runtime): Promise<void> {
  const listener = sys.tcpListen('127.0.0.1', 0);
  print(`tcp: listening on 127.0.0.1:${listener.port} (fd ${listener.fd})`);
  const client = sys.tcpConnect('127.0.0.1', listener.port);

  await rt.readable(listener.fd);
  const server = sys.tcpAccept(listener.fd);
  sys.close(listener.fd);
  if (server === sys.WOULD_BLOCK) throw new Error('accept would block after readable');
  await rt.writable(client);
  const connectError = sys.socketError(client);
  if (connectError) throw connectError;
  print(`tcp: connected, client fd ${client} -> server fd ${server}`);

  const buffer = Buffer.alloc(1024);
  const watcher = rt.watch(server, Interest.READABLE | Interest.PRIORITY, (ev) => {
    if (ev.priority) {
      const n = sys.recv(server, buffer, sys.MSG_OOB);
      if (n > 0) print(`tcp: PRIORITY event, urgent byte '${buffer.toString('latin1', 0, n)}'`);
    }
    if (ev.readable) {
      for (;;) {
        const n = sys.recv(server, buffer);
        if (n === sys.WOULD_BLOCK) break;
        if (n === 0) {
          print('tcp: peer closed; closing the server side');
          watcher.close();
          sys.close(server);
          return;
        }
        printContent('tcp: ordinary data', buffer.subarray(0, n));
      }
    }
  });

  rt.setTimeout(() => {
    print("tcp: client sends 'normal data'");
    sys.send(client, Buffer.from('normal data'));
  }, 200);
  rt.setTimeout(() => {
    print("tcp: client sends urgent byte '!' with MSG_OOB");
    sys.send(client, Buffer.from('!'), sys.MSG_OOB);
  }, 400);
  rt.setTimeout(() => {
    print('tcp: client closes');
    sys.close(client);
  }, 900);
}

function intervalTimer(rt: Runtime): void {
  let count = 0;
  const interval = rt.setInterval(() => {
    count += 1;
    print(`interval: tick ${count} of 4`);
    if (count === 4) {
      interval.cancel();
      print('interval: cancelled');
    }
  }, 250);
}

async function main(): Promise<void> {
  const rt = createRuntime({ backend: epoll(), trace: quiet ? false : { output: 'stdout' } });
  print(`demo: backend ${rt.backend.name}, thread ${currentThread()}`);
  await rt.run(async () => {
    pipeWrittenFromTimer(rt);
    intervalTimer(rt);
    await tcpUrgentData(rt);
  });
  await rt.close();
  print('FINISHED');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

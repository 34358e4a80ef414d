// An open-loop HTTPS load at a steady rate, for latency at a given load (bench/webhook.ts).
//
// Requests are due at fixed intervals whatever the answers' latency, and each one's latency counts
// from when the client found it due (its 1 ms timer's lateness excluded), including any wait for
// a free connection, so a server that falls behind shows it (no coordinated omission). Like the API server, every connection is kept alive and carries one request at a
// time; a due request waits for a free connection. The client is a few lines over tls.connect
// (a prebuilt request, a minimal parser for the server's Content-Length answers) rather than
// node:https, whose per-request cost on a 2-core machine made the client, not the server, the
// source of the slowest latencies.
import { performance } from 'node:perf_hooks';
import { connect, type TLSSocket } from 'node:tls';

export interface PacedResult {
  /** Answers per second over the run. */
  requestsPerSecond: number;
  /** Latencies of the 200 answers, in milliseconds, sorted. */
  latencies: Float64Array;
  sent: number;
  non2xx: number;
  errors: number;
}

export interface PacedOptions {
  readonly port: number;
  readonly ca: string;
  readonly path: string;
  readonly seconds: number;
  readonly rate: number;
  readonly connections: number;
  /** The body of request number `sequence`. */
  readonly body: (sequence: number) => string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

class Connection {
  private readonly socket: TLSSocket;
  private buffered: Buffer = Buffer.alloc(0);
  private due = 0;
  private onAnswer: ((status: number, due: number) => void) | undefined;
  busy = false;

  constructor(port: number, ca: string, onError: () => void) {
    this.socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', onError);
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('secureConnect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  send(request: Buffer, due: number, onAnswer: (status: number, due: number) => void): void {
    this.busy = true;
    this.due = due;
    this.onAnswer = onAnswer;
    this.socket.write(request);
  }

  private read(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const end = this.buffered.indexOf(HEADER_END);
    if (end === -1) return;
    const head = this.buffered.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const total = end + HEADER_END.length + length;
    if (this.buffered.length < total) return;
    this.buffered = this.buffered.subarray(total);
    this.busy = false;
    this.onAnswer?.(Number(head.slice(9, 12)), this.due);
  }

  close(): void {
    this.socket.destroy();
  }
}

function requestBytes(path: string, body: string): Buffer {
  const bytes = Buffer.from(body);
  const head =
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${bytes.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes]);
}

export async function pacedLoad(options: PacedOptions): Promise<PacedResult> {
  let errors = 0;
  const connections = Array.from(
    { length: options.connections },
    () => new Connection(options.port, options.ca, () => (errors += 1)),
  );
  await Promise.all(connections.map((connection) => connection.ready()));
  const total = Math.floor(options.rate * options.seconds);
  const latencies: number[] = [];
  let non2xx = 0;
  let answered = 0;
  let sent = 0;
  const waiting: number[] = []; // when each request waiting for a free connection fell due
  const start = performance.now();
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => (finished = resolve));

  const dispatch = (): void => {
    for (const connection of connections) {
      if (waiting.length === 0) return;
      if (connection.busy) continue;
      const due = waiting.shift()!;
      connection.send(requestBytes(options.path, options.body(sent)), due, onAnswer);
      sent += 1;
    }
  };
  const onAnswer = (status: number, due: number): void => {
    if (status === 200) latencies.push(performance.now() - due);
    else non2xx += 1;
    answered += 1;
    if (answered + errors >= total) finished();
    else dispatch();
  };
  const interval = 1000 / options.rate;
  let scheduled = 0;
  const tick = (): void => {
    const now = performance.now();
    while (scheduled < total && start + scheduled * interval <= now) {
      waiting.push(now);
      scheduled += 1;
    }
    dispatch();
    if (scheduled < total) setTimeout(tick, 1);
  };
  tick();
  // A connection that failed leaves its requests unanswered: stop waiting for them in time.
  const limit = setTimeout(finished, options.seconds * 1000 + 30_000);
  await done;
  clearTimeout(limit);
  const elapsed = (performance.now() - start) / 1000;
  for (const connection of connections) connection.close();
  return {
    requestsPerSecond: latencies.length / elapsed,
    latencies: Float64Array.from(latencies).sort(),
    sent,
    non2xx,
    errors,
  };
}

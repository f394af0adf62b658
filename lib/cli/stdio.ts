/**
 * stdin and stdout with one chunk in flight each way: stdin is paused after every chunk
 * until the socket took it (socketSendResult), and the next recv is asked for only once
 * stdout took the last one. Nothing between the two ends grows without bound.
 */

/** Reads stdin one chunk at a time; the consumer calls `next()` when it may have another. */
export class StdinSource {
  private started = false;
  private stopped = false;

  constructor(private readonly input: NodeJS.ReadStream = process.stdin) {}

  /** Starts reading: `onChunk` per chunk (stdin then waits for `next()`), `onEnd` at EOF or on a read error. */
  start(onChunk: (chunk: Buffer) => void, onEnd: (error: Error | null) => void): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.input.on('data', (chunk: Buffer) => {
      this.input.pause();
      if (!this.stopped) onChunk(chunk);
    });
    this.input.once('end', () => {
      if (!this.stopped) onEnd(null);
    });
    this.input.once('error', (err: Error) => {
      if (!this.stopped) onEnd(err);
    });
    this.input.resume();
  }

  /** The last chunk was taken: read the next one. */
  next(): void {
    if (!this.stopped) this.input.resume();
  }

  /** Reads no more (the socket ended). */
  stop(): void {
    this.stopped = true;
    this.input.pause();
  }
}

/** Writes to stdout one chunk at a time and tells when everything written has been taken. */
export class StdoutSink {
  private writing = false;
  private failed = false;
  private readonly idleWaiters: Array<() => void> = [];

  /** `onError` is called once if stdout fails (e.g. EPIPE when the reader went away). */
  constructor(
    private readonly onError: (error: Error) => void,
    private readonly output: NodeJS.WriteStream = process.stdout,
  ) {
    output.on('error', (err: Error) => this.fail(err));
  }

  /** Writes `data`; `taken` runs once stdout has taken it and `data` may be reused (not after a failure). */
  write(data: Uint8Array, taken: () => void): void {
    if (this.failed) return;
    this.writing = true;
    this.output.write(data, (err) => {
      this.writing = false;
      if (err) this.fail(err);
      else taken();
      this.flushWaiters();
    });
  }

  /** Runs `done` once no write is in flight. */
  whenIdle(done: () => void): void {
    if (!this.writing) done();
    else this.idleWaiters.push(done);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.onError(err);
  }

  private flushWaiters(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

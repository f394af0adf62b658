import { ISocket, ShutdownReason, USocket } from '../index';
import { Ending, ExitCode } from './exit';
import { Reporter } from './report';
import { StdinSource, StdoutSink } from './stdio';

/** What every session needs from the run: where to report, how to end, stdin. */
export interface SessionEnv {
  reporter: Reporter;
  ending: Ending;
  stdin: StdinSource;
}

/**
 * A socket user that pipes stdin into its socket and what the socket receives to stdout,
 * one chunk in flight each way, and ends the process with the code of the socket's end.
 */
export abstract class PipeSession extends USocket {
  protected socket: ISocket | null = null;
  protected ended = false;
  private readonly stdout: StdoutSink;
  private localFailure: string | null = null;

  constructor(protected readonly env: SessionEnv) {
    super();
    this.stdout = new StdoutSink((err) => this.failLocally(`stdout: ${err.message}`));
  }

  /** Reads stdin into `onChunk` (which calls `env.stdin.next()` once the chunk was sent); `onEnd` at EOF. */
  protected pipeStdin(onChunk: (chunk: Buffer) => void, onEnd: () => void): void {
    this.env.stdin.start(onChunk, (error) => (error ? this.failLocally(`stdin: ${error.message}`) : onEnd()));
  }

  /** Writes received bytes to stdout; `recvNext` asks for more once stdout took them. */
  protected output(data: Uint8Array, recvNext: () => void): void {
    this.stdout.write(data, () => {
      if (!this.ended) recvNext();
    });
  }

  override socketShutdown(_socket: ISocket, reason: ShutdownReason): void {
    this.ended = true;
    this.env.stdin.stop();
    this.stdout.whenIdle(() => {
      if (this.localFailure !== null) this.env.ending.exit(ExitCode.Failure, this.localFailure);
      else this.env.ending.byReason(reason);
    });
  }

  /** stdin or stdout failed: close the socket and exit with the local-error code. */
  private failLocally(message: string): void {
    if (this.localFailure !== null) return;
    this.localFailure = message;
    this.env.stdin.stop();
    if (!this.socket) this.env.ending.exit(ExitCode.Failure, message);
    else if (!this.ended) this.socket.shutdown();
  }
}

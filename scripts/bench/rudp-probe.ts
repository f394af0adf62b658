// Which API the rudp bench's reliable workloads use: a message socket when createMessageSocket
// carries rudp messages whole (framing 'datagram'), else the rudp socket's own send/recv. On
// the engine this bench was first written against, the message socket took rudp for a byte
// stream ('u32' framing) and never delivered a message (docs/performance.md).
import { createMessageSocket, createRudpSocketProvider, ISocket, UMessageSocket, USocket } from '../../lib';

class Quiet extends USocket {
  override socketShutdown(): void {}
}

class QuietMessages extends UMessageSocket {
  override messageSocketShutdown(): void {}
}

/** The framing a message socket over a loopback rudp connection reports, or why there is none (5 s at most). */
export function rudpMessageFraming(): Promise<string> {
  const rudp = createRudpSocketProvider();
  return new Promise((resolve) => {
    let listener: ISocket | null = null;
    const done = (what: string): void => {
      clearTimeout(timer);
      listener?.shutdown();
      resolve(what);
    };
    const timer = setTimeout(() => done('no rudp connection within 5 s'), 5000);
    class Client extends Quiet {
      override socketConnectComplete(s: ISocket): void {
        const ms = createMessageSocket(s, new QuietMessages());
        ms.shutdown();
        done(ms.framing);
      }
    }
    class Listener extends Quiet {
      override socketBindResult(s: ISocket, _addr: string, port: number): void {
        s.listen();
        rudp.createSocket(new Client()).connect(`127.0.0.1:${port}`);
      }
      override socketListenResult(s: ISocket): void {
        s.accept(new Quiet());
      }
    }
    listener = rudp.createSocket(new Listener());
    listener.bind('127.0.0.1', 0);
  });
}

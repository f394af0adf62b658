// The rudp part of the demo: reliable messages over UDP through the simulator, which drops 5 %
// of the datagrams each way. A listener echoes; the client sends messages of many sizes (some
// span several datagrams), checks that every echo came back intact and in order, and prints
// what its connection's stats() saw of the loss.
import { createRudpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';

const MESSAGES = 60;
const LOSS = { lossPercent: 5, seed: 20 }; // seeded: the simulator draws the same sequence each run (timing decides what it falls on)

/** Message `i`: 1 B … about 12 KB, every byte depending on (i, position). */
function message(i: number): Buffer {
  const b = Buffer.alloc(1 + ((i * 2039) % 12_000));
  for (let k = 0; k < b.length; k++) b[k] = (i * 7 + k * 13) & 0xff;
  return b;
}

export function runRudp(): Promise<string[]> {
  const rudp = createRudpSocketProvider();
  const report: string[] = [];
  return new Promise((resolve) => {
    let ends = 3;
    const ended = (who: string, reason: ShutdownReason): void => {
      report.push(`  ${who} ended: ${reason}`);
      if (--ends === 0) resolve(report);
    };

    // The echo of one connection: answers each message, reads the next once the answer was acknowledged.
    class Echo extends USocket {
      private readonly buf = new Uint8Array(16 * 1024);
      override socketAcceptComplete(s: ISocket): void {
        s.recv(this.buf);
      }
      override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
        s.send(b, n);
      }
      override socketSendResult(s: ISocket): void {
        s.recv(this.buf);
      }
      socketShutdown(_s: ISocket, reason: ShutdownReason): void {
        ended('server connection', reason);
      }
    }

    const listener = rudp.createSocket(
      new (class extends USocket {
        override socketBindResult(_s: ISocket, addr: string, port: number): void {
          report.push(`  rudp listener on ${addr}:${port}; the simulator drops ${LOSS.lossPercent} % of the datagrams each way`);
          startClient(port);
        }
        override socketListenResult(l: ISocket): void {
          l.accept(new Echo());
        }
        socketShutdown(_s: ISocket, reason: ShutdownReason): void {
          ended('listener', reason);
        }
      })(),
    );
    listener.bind('127.0.0.1', 0);
    listener.listen();

    function startClient(port: number): void {
      let received = 0;
      let intact = 0;
      const client = rudp.createSocket(
        new (class extends USocket {
          private readonly buf = new Uint8Array(16 * 1024);
          override socketConnectComplete(s: ISocket): void {
            let bytes = 0;
            for (let i = 0; i < MESSAGES; i++) {
              const m = message(i);
              bytes += m.length;
              s.send(m); // every message is copied and queued; each is acknowledged by the peer
            }
            report.push(`  client connected; ${MESSAGES} messages sent (${bytes} bytes, 1 B to 12 KB: up to 11 datagrams each)`);
            s.recv(this.buf);
          }
          override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
            if (Buffer.from(b.subarray(0, n)).equals(message(received))) intact++;
            if (++received < MESSAGES) {
              s.recv(this.buf);
              return;
            }
            const st = s.stats();
            report.push(`  ${received} echoes came back, ${intact} of them intact and in order`);
            report.push(
              `  client stats: rtt ${st.rttMs?.toFixed(1)} ms, ${st.packetsSent} packets sent, ${st.packetsLost} declared lost, ${st.retransmits} fragments sent again`,
            );
            s.shutdown(); // a close packet once everything is acknowledged: the server's connection ends BY_PEER
            listener.shutdown(); // stops offering; its accepted connection lives until its own end
          }
          socketShutdown(_s: ISocket, reason: ShutdownReason): void {
            ended('client', reason);
          }
        })(),
        { simulate: LOSS }, // on every datagram the client sends and receives: both directions
      );
      client.connect(`127.0.0.1:${port}`);
    }
  });
}

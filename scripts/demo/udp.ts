// The UDP part of the demo: a bound "server" answers datagrams with sendTo; a connected
// client sends, hears only its peer, and one datagram is cut to the asked length.
import { createUdpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';

export function runUdp(): Promise<string[]> {
  const udp = createUdpSocketProvider();
  const report: string[] = [];
  return new Promise((resolve) => {
    let ends = 2;
    const ended = (who: string, reason: ShutdownReason): void => {
      report.push(`  ${who} ended: ${reason}`);
      if (--ends === 0) resolve(report);
    };
    const server = udp.createSocket(
      new (class extends USocket {
        private readonly buf = new Uint8Array(8); // longer datagrams are cut to 8 bytes
        override socketBindResult(s: ISocket, addr: string, port: number): void {
          report.push(`  UDP server bound on ${addr}:${port}`);
          s.recv(this.buf);
          startClient(port);
        }
        override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number, addr: string, port: number): void {
          const text = Buffer.from(b.subarray(0, n)).toString();
          report.push(`  server got ${n} bytes "${text}" from ${addr}:${port}`);
          s.sendTo(Buffer.from(`ack:${text}`), undefined, addr, port);
        }
        override socketSendResult(s: ISocket): void {
          s.recv(this.buf); // the next datagram once the answer was sent
        }
        socketShutdown(_s: ISocket, reason: ShutdownReason): void {
          ended('server', reason);
        }
      })(),
    );
    server.bind('127.0.0.1', 0);

    function startClient(port: number): void {
      const messages = ['ping', 'a datagram longer than eight bytes'];
      let replies = 0;
      const client = udp.createSocket(
        new (class extends USocket {
          private readonly buf = new Uint8Array(64);
          override socketConnectComplete(s: ISocket): void {
            report.push(`  client connected from port ${s.localPort} to ${s.remoteAddress}:${s.remotePort}`);
            for (const m of messages) s.send(Buffer.from(m));
            s.recv(this.buf);
          }
          override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
            report.push(`  client got "${Buffer.from(b.subarray(0, n)).toString()}"`);
            if (++replies < messages.length) {
              s.recv(this.buf);
              return;
            }
            s.shutdown();
            server.shutdown();
          }
          socketShutdown(_s: ISocket, reason: ShutdownReason): void {
            ended('client', reason);
          }
        })(),
      );
      client.connect(`127.0.0.1:${port}`);
    }
  });
}

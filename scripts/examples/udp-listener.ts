import { createUdpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';

const udp = createUdpSocketProvider();
const CLIENTS = 3;
const answers: string[] = [];

// The listener: a bound UDP socket on which listen() was called. Each new peer (address and port)
// is offered once; accept(user) gives that peer a socket of its own on the same port.
class Listener extends USocket {
  override socketBindResult(socket: ISocket, address: string, port: number) {
    for (let i = 0; i < CLIENTS; i++) udp.createSocket(new Client(i)).connect(`${address}:${port}`);
  }
  override socketListenResult(socket: ISocket, remoteAddr: string, remotePort: number) {
    socket.accept(new Echo()); // or accept(null): the peer is denied, its datagrams dropped and counted
  }
  override socketShutdown(socket: ISocket, reason: ShutdownReason) {}
}

// One per peer: a connected UDP socket (send/recv) that hears only its peer. It echoes, then ends.
class Echo extends USocket {
  override socketAcceptComplete(socket: ISocket) {
    socket.recv(new Uint8Array(2048)); // the peer's first datagram is waiting already
  }
  override socketRecvFromResult(socket: ISocket, buffer: Uint8Array, len: number) {
    socket.send(Buffer.concat([Buffer.from('echo: '), buffer.subarray(0, len)]));
    socket.shutdown(); // sends what is queued first
  }
  override socketShutdown(socket: ISocket, reason: ShutdownReason) {}
}

class Client extends USocket {
  constructor(private readonly n: number) {
    super();
  }
  override socketConnectComplete(socket: ISocket) {
    socket.recv(new Uint8Array(2048));
    socket.send(Buffer.from(`hello from client ${this.n}`));
  }
  override socketRecvFromResult(socket: ISocket, buffer: Uint8Array, len: number) {
    answers.push(`client ${this.n}: ${Buffer.from(buffer.subarray(0, len))}`);
    socket.shutdown();
    if (answers.length === CLIENTS) {
      console.log(answers.sort().join('\n')); // the clients run at once: their answers come in any order
      console.log(`peers accepted: ${listener.stats().listener?.accepted}`);
      listener.shutdown(); // the port closes once every accepted socket has ended too
    }
  }
  override socketShutdown(socket: ISocket, reason: ShutdownReason) {}
}

const listener = udp.createSocket(new Listener(), { idleTimeoutMs: 10_000 });
listener.bind('127.0.0.1', 0);
listener.listen(); // listens once bound

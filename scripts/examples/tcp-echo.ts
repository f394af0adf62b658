import { createTcpSocketProvider, ISocket, USocket } from '../../lib';

const tcp = createTcpSocketProvider();

// One accepted connection: read whatever arrives (1..64 bytes) and send it back; read again
// once that send is done, so a peer that never reads is held back instead of queued for.
class Echo extends USocket {
  private readonly buf = new Uint8Array(64);
  override socketAcceptComplete(s: ISocket) { s.recv(this.buf, 64, true); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) { s.send(buf, n); }
  override socketSendResult(s: ISocket) { s.recv(this.buf, 64, true); }
  socketShutdown() {}
}

// The listener: once bound (port 0: the OS picks one), listen, start the client, accept everyone.
class Server extends USocket {
  override socketBindResult(s: ISocket, addr: string, port: number) { s.listen(); client.connect(`${addr}:${port}`); }
  override socketListenResult(s: ISocket) { s.accept(new Echo()); }
  socketShutdown() {}
}

// The client: send "hello", wait for exactly 5 bytes back, print them, shut both sockets down.
class Client extends USocket {
  override socketConnectComplete(s: ISocket) { s.send(Buffer.from('hello')); s.recv(new Uint8Array(5)); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) { console.log(`echo: ${Buffer.from(buf.subarray(0, n))}`); s.shutdown(); server.shutdown(); }
  socketShutdown() {}
}

const server = tcp.createSocket(new Server());
const client = tcp.createSocket(new Client());
server.bind('127.0.0.1', 0);

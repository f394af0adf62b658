import { createTcpSocketProvider, IoMux, ISocket, ShutdownReason, USocket } from '../../lib';

// Every socket on this IoMux waits for the game's frame to get its callbacks.
const iomux = new IoMux({ dispatch: 'manual' });
const tcp = createTcpSocketProvider();
let inFrame = false;
let outsideFrame = 0;
const log = (line: string) => {
  if (!inFrame) outsideFrame++;
  console.log(line);
};

class Player extends USocket {
  override socketConnectComplete(s: ISocket) {
    log('connected');
    s.send(Buffer.from('move 3 4'));
    s.recv(new Uint8Array(8));
  }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) {
    log(`server says: ${Buffer.from(buf.subarray(0, n))}`);
    s.shutdown();
  }
  override socketShutdown(_s: ISocket, reason: ShutdownReason) {
    log(`player: ${reason}`);
    server.shutdown();
  }
}

class Session extends USocket {
  override socketAcceptComplete(s: ISocket) {
    s.recv(new Uint8Array(8));
  }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) {
    log(`player says: ${Buffer.from(buf.subarray(0, n))}`);
    s.send(Buffer.from('ok 3 4  '));
  }
  override socketShutdown() {}
}

class Server extends USocket {
  override socketBindResult(s: ISocket, addr: string, port: number) {
    s.listen();
    tcp.createSocket(new Player(), { iomux }).connect(`${addr}:${port}`);
  }
  override socketListenResult(s: ISocket) {
    s.accept(new Session());
  }
  override socketShutdown() {
    done = true;
  }
}

let done = false;
const server = tcp.createSocket(new Server(), { iomux });
server.bind('127.0.0.1', 0);

// The game's loop: update the world, then run the network callbacks of this frame.
const frame = setInterval(() => {
  inFrame = true;
  iomux.poll();
  inFrame = false;
  if (done) {
    clearInterval(frame);
    console.log(`callbacks outside a frame: ${outsideFrame}`);
  }
}, 5);

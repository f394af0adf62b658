import { createMessageSocket, createRudpSocketProvider, IMessageSocket, ISocket, ShutdownReason, SocketOptions, UMessageSocket, USocket } from '../../lib';

const rudp = createRudpSocketProvider();
// Lane 0 carries the map (a backlog builds), lane 1 the chat: a lower priority number goes first.
const lanes = [
  { priority: 1, weight: 1 },
  { priority: 0, weight: 1 },
];
// The client's datagrams, both ways, lose 10 % (seeded: the same every run); reliable messages still arrive.
const clientOptions: SocketOptions = { lanes, simulate: { lossPercent: 10, seed: 7 } };
const CHUNKS = 8;
const POSITIONS = 5;
const report: string[] = [];
const ends: string[] = [];
const text = (message: Uint8Array) => Buffer.from(message).toString('latin1');

function ended(who: string, reason: ShutdownReason): void {
  if (reason !== ShutdownReason.Normal && reason !== ShutdownReason.ByPeer) process.exitCode = 1;
  ends.push(`${who} ${reason}`);
  if (ends.length < 2) return;
  for (const line of report) console.log(line);
  console.log(`ended: ${ends.sort().join(', ')}`);
  listener.shutdown();
}

// The server's side of a connection: counts the map and the positions, answers the chat.
class Session extends UMessageSocket {
  private chunks = 0;
  private inOrder = true;
  private positions = 0;
  private chatAfter = -1;
  override messageReceived(ms: IMessageSocket, message: Uint8Array) {
    const t = text(message.subarray(0, 5));
    if (t.startsWith('pos')) this.positions++; // unreliable: some may be lost, none arrives twice
    if (t.startsWith('map')) this.inOrder &&= t === `map ${this.chunks++}`;
    if (!t.startsWith('chat')) return ms.receiveNext();
    this.chatAfter = this.chunks;
    ms.sendMessage(Buffer.from('chat: welcome'), { lane: 1 }); // read on once this one is acknowledged
  }
  override messageSendResult(ms: IMessageSocket) {
    ms.receiveNext();
  }
  override messageSocketShutdown(_ms: IMessageSocket, reason: ShutdownReason) {
    report.push(`server: ${this.chunks} map chunks, in order: ${this.inOrder}`);
    report.push(`server: the chat overtook the map backlog: ${this.chatAfter >= 0 && this.chatAfter < CHUNKS}`);
    report.push(`server: positions received, at most ${POSITIONS}: ${this.positions <= POSITIONS}`);
    ended('server side', reason);
  }
}

// The client: a map download on lane 0, position updates that may be lost, a chat line on lane 1.
class Player extends UMessageSocket {
  override messageReceived(ms: IMessageSocket, message: Uint8Array) {
    report.push(`client: ${text(message)}; RTT measured: ${ms.socket.stats().rttMs !== null}`);
    ms.shutdown(); // the map still queued is delivered first
  }
  override messageSocketShutdown(_ms: IMessageSocket, reason: ShutdownReason) {
    ended('client', reason);
  }
}

class Connecting extends USocket {
  override socketConnectComplete(s: ISocket) {
    const ms = createMessageSocket(s, new Player());
    for (let i = 0; i < CHUNKS; i++) ms.sendMessage(Buffer.alloc(32 * 1024, `map ${i}`));
    for (let i = 0; i < POSITIONS; i++) ms.sendMessage(Buffer.from(`pos ${i} ${2 * i}`), { reliable: false });
    ms.sendMessage(Buffer.from('chat: hello'), { lane: 1 });
    ms.receiveNext();
  }
  socketShutdown() {}
}

// One UDP port serves every connection; the listener's options apply to the connections it accepts.
class Listener extends USocket {
  override socketBindResult(s: ISocket, addr: string, port: number) {
    s.listen();
    rudp.createSocket(new Connecting(), clientOptions).connect(`${addr}:${port}`);
  }
  override socketListenResult(s: ISocket) {
    s.accept(this); // accept(null) would deny: the client ends SOCKET_CONNECT_REJECTED
  }
  override socketAcceptComplete(s: ISocket) {
    createMessageSocket(s, new Session()).receiveNext();
  }
  socketShutdown() {}
}

const listener = rudp.createSocket(new Listener(), { lanes });
listener.bind('127.0.0.1', 0);

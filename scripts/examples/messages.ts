import { createMessageSocket, createTcpSocketProvider, IMessageSocket, ISocket, MessageSocketOptions, ShutdownReason, UMessageSocket, USocket } from '../../lib';

const tcp = createTcpSocketProvider();
// Both ends frame alike: here text lines (the default is a 4-byte length before each message).
const options: MessageSocketOptions = { framing: { delimiter: '\n' }, maxMessageSize: 1024 };
const ends: string[] = [];
const text = (message: Uint8Array) => Buffer.from(message).toString();

// Both message sockets report their end here; once both have, print them.
function ended(who: string, reason: ShutdownReason): void {
  if (reason !== ShutdownReason.Normal && reason !== ShutdownReason.ByPeer) process.exitCode = 1;
  ends.push(`${who} ${reason}`);
  if (ends.length === 2) console.log(`ended: ${ends.sort().join(', ')}`);
}

// The server's side of a connection: one answer per message; ask for the next message once the
// answer was sent, so a client that never reads the answers is held back instead of queued for.
class Service extends UMessageSocket {
  override messageReceived(ms: IMessageSocket, message: Uint8Array) {
    ms.sendMessage(Buffer.from(`"${text(message)}" has ${message.byteLength} bytes`));
  }
  override messageSendResult(ms: IMessageSocket) {
    ms.receiveNext(); // nothing more is read from the connection until this call
  }
  override messageSocketShutdown(ms: IMessageSocket, reason: ShutdownReason) { ended('server side', reason); listener.shutdown(); }
}

// The client: three messages in a row (one TCP segment, likely); print the three answers, then end.
class Client extends UMessageSocket {
  private answers = 0;
  override messageReceived(ms: IMessageSocket, message: Uint8Array) {
    console.log(`answer: ${text(message)}`);
    if (++this.answers < 3) ms.receiveNext();
    else ms.shutdown();
  }
  override messageSocketShutdown(ms: IMessageSocket, reason: ShutdownReason) { ended('client', reason); }
}

// Plain sockets become message sockets once connected or accepted.
class Listener extends USocket {
  override socketBindResult(s: ISocket, addr: string, port: number) { s.listen(); tcp.createSocket(new Connecting()).connect(`${addr}:${port}`); }
  override socketListenResult(s: ISocket) { s.accept(this); }
  override socketAcceptComplete(s: ISocket) { createMessageSocket(s, new Service(), options).receiveNext(); }
  socketShutdown() {}
}

class Connecting extends USocket {
  override socketConnectComplete(s: ISocket) {
    const ms = createMessageSocket(s, new Client(), options);
    for (const line of ['hello', '', 'héllo wörld']) ms.sendMessage(Buffer.from(line));
    try {
      ms.sendMessage(Buffer.from('two\nlines'));
    } catch (e) {
      console.log(`refused: ${(e as Error).message}`); // a message may not contain the delimiter
    }
    ms.receiveNext();
  }
  socketShutdown() {}
}

const listener = tcp.createSocket(new Listener());
listener.bind('127.0.0.1', 0);

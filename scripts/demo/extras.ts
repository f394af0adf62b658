// The "beyond the seed" part of the demo: a socket pair (no network) carries length-prefixed
// messages on a manual IoMux driven by a frame timer, and the client's stats() at the end.
import { createMessageSocket, createSocketPair, IMessageSocket, IoMux, ISocket, ShutdownReason, UMessageSocket, USocket } from '../../lib';

export function runExtras(): Promise<string[]> {
  const report: string[] = [];
  const iomux = new IoMux({ dispatch: 'manual' });
  let inFrame = false;
  let outside = 0;
  const note = (line: string): void => {
    if (!inFrame) outside++;
    report.push(`  ${line}`);
  };
  const requests = ['hello', 'a longer message of 36 bytes, framed', 'bye'];
  let clientSocket: ISocket | null = null;
  let ended = 0;

  class ClientMessages extends UMessageSocket {
    private answers = 0;
    override messageReceived(ms: IMessageSocket, message: Uint8Array): void {
      note(`client got "${Buffer.from(message)}"`);
      if (++this.answers === requests.length) ms.shutdown();
      else ms.receiveNext();
    }
    messageSocketShutdown(_ms: IMessageSocket, reason: ShutdownReason): void {
      note(`client messages ended: ${reason}`);
      ended++;
    }
  }
  class ServerMessages extends UMessageSocket {
    override messageReceived(ms: IMessageSocket, message: Uint8Array): void {
      ms.sendMessage(Buffer.from(`${message.byteLength} bytes received`));
    }
    override messageSendResult(ms: IMessageSocket): void {
      ms.receiveNext(); // the next request once the answer was sent
    }
    messageSocketShutdown(_ms: IMessageSocket, reason: ShutdownReason): void {
      note(`server messages ended: ${reason}`);
      ended++;
    }
  }

  createSocketPair(
    new (class extends USocket {
      override socketConnectComplete(s: ISocket): void {
        clientSocket = s;
        note('pair connected (no network)');
        const ms = createMessageSocket(s, new ClientMessages(), { framing: 'u32', iomux });
        for (const r of requests) ms.sendMessage(Buffer.from(r));
        ms.receiveNext();
      }
      socketShutdown(): void {}
    })(),
    new (class extends USocket {
      override socketAcceptComplete(s: ISocket): void {
        createMessageSocket(s, new ServerMessages(), { framing: 'u32', iomux }).receiveNext();
      }
      socketShutdown(): void {}
    })(),
    { iomux },
  );

  return new Promise((resolve) => {
    const frame = setInterval(() => {
      inFrame = true;
      iomux.poll();
      inFrame = false;
      if (ended < 2) return;
      clearInterval(frame);
      const st = clientSocket!.stats();
      report.push(
        `  client stats: ${st.bytesSent} bytes in ${st.messagesSent} sends out, ${st.bytesReceived} bytes in, ${st.queuedSendBytes} queued, last error ${st.lastErrorCode ?? 'none'}`,
      );
      report.push(`  callbacks outside a frame: ${outside}`);
      resolve(report);
    }, 5);
  });
}

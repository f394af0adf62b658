/**
 * Message sockets on an IoMux with `{ dispatch: 'manual' }`: given the `iomux` option, every
 * message callback runs inside `poll()` — also those the message socket schedules itself (a
 * message already buffered when `receiveNext()` asks, the end after `shutdown()`).
 */
import { IoMux, ShutdownReason } from '../../lib';
import { MessageErrorCode } from '../../lib/messages';
import { closeAllRaw, pollUntil } from '../helpers/net-helpers';
import { cleanupMessages, MessageRecorder, withRawPeer } from './message-harness';

/** Runs `iomux.poll()` on every turn of the event loop until stopped; tells whether a poll is running. */
function gameLoop(iomux: IoMux): { inPoll: () => boolean; stop: () => void } {
  let polling = false;
  let running = true;
  const turn = (): void => {
    if (!running) return;
    polling = true;
    try {
      iomux.poll();
    } finally {
      polling = false;
    }
    setImmediate(turn);
  };
  setImmediate(turn);
  return { inPoll: () => polling, stop: () => (running = false) };
}

let loop: { inPoll: () => boolean; stop: () => void } | null = null;

afterEach(async () => {
  const violations = await cleanupMessages();
  loop?.stop();
  loop = null;
  await closeAllRaw();
  expect(violations).toEqual([]);
});

const frame = (text: string): Buffer => Buffer.concat([Buffer.from([0, 0, 0, text.length]), Buffer.from(text)]);

describe('a message socket on a manual IoMux', () => {
  it.each([
    ['the peer’s end after buffered messages', false],
    ['shutdown() while the peer’s end waits', true],
  ])('runs every callback inside poll(): %s', async (_name, shutdownEarly) => {
    const iomux = new IoMux({ dispatch: 'manual' });
    loop = gameLoop(iomux);
    const outside: string[] = [];
    const user = new MessageRecorder('server');
    user.onEvent = (e) => {
      if (!loop?.inPoll()) outside.push(e.name);
    };
    const { raw, ms } = await withRawPeer(user, { iomux }, { iomux });

    // Three messages in one write, then the end: after the first recv, the other two wait in
    // the message socket's buffer and the socket's own end has been reported.
    raw.end(Buffer.concat([frame('one'), frame('two'), frame('three')]));
    ms.sendMessage(Buffer.from('hello')); // a send result, from the socket
    user.onMessage = (s, m) => {
      if (shutdownEarly && Buffer.from(m).toString() === 'two') s.shutdown();
      else s.receiveNext();
    };
    ms.receiveNext();
    const reason = await user.waitForShutdown();

    expect(reason).toBe(shutdownEarly ? ShutdownReason.Normal : ShutdownReason.ByPeer);
    expect(user.messages().map(String)).toEqual(shutdownEarly ? ['one', 'two'] : ['one', 'two', 'three']);
    expect(user.count('messageSendResult')).toBe(1);
    expect(outside).toEqual([]);
  });
});

describe('shutdown() after a framing error', () => {
  it('is ignored: the end stays SOCKET_LOST (a manual IoMux lets the app call it between the two)', async () => {
    const iomux = new IoMux({ dispatch: 'manual' });
    loop = gameLoop(iomux);
    const user = new MessageRecorder('server');
    const { raw, ms } = await withRawPeer(user, { iomux, maxMessageSize: 10 }, { iomux });
    loop.stop();
    ms.receiveNext();
    raw.write(Buffer.from([0, 0, 0, 11]));
    // One callback at a time, until the one that found the error: the end is not reported yet.
    await pollUntil(() => {
      iomux.poll(1);
      return ms.framingError !== null;
    }, 'the framing error');
    expect(ms.framingError).toBe(MessageErrorCode.TooLarge);
    expect(user.count('messageSocketShutdown')).toBe(0);
    ms.shutdown();
    loop = gameLoop(iomux);
    expect(await user.waitForShutdown()).toBe(ShutdownReason.Lost);
  });
});

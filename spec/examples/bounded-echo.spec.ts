/**
 * The examples teach the bounded reply pattern (issue #15, defect 2): a server that answers
 * what it reads sends the answer from `socketRecvResult` and asks for more only from
 * `socketSendResult`, once the answer was handed to the OS. A peer that sends but never reads
 * then fills the TCP buffers, the answer's send stays pending, no `recv` is issued, the
 * read-ahead fills and the server stops reading: TCP holds the peer back. An echo that calls
 * `recv` again right after `send` instead reads everything the peer sends and queues every
 * answer in memory (200 such peers took a README-style server to 1.26 GB).
 *
 * - Behaviour: each echo-style server user of the examples, taken from the example file as it
 *   is (the class's own source, compiled here), serves a raw `net` client that writes 32 MiB
 *   and never reads. The server must stop reading with its read-ahead full, having taken a
 *   few MiB at most (kernel buffers on both paths plus the read-ahead), with one answer in
 *   flight; the old examples take all 32 MiB and queue the answers.
 * - Statically: in every example, demo script and code block of the docs, a callback that
 *   receives (`socketRecvResult`, `socketRecvFromResult`, `messageReceived`) does not ask for
 *   the next read (`recv`, `receiveNext`) after it sent (`send`, `sendTo`, `sendMessage`).
 */
import * as net from 'node:net';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { createTcpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { EchoConnection } from '../../scripts/demo/tcp';
import { closeAllRaw, pollUntil, rawConnect, settle, withTimeout } from '../helpers/net-helpers';

const root = path.resolve(__dirname, '..', '..');

// ---------------------------------------------------------------------------------------
// Taking a user class out of an example file
// ---------------------------------------------------------------------------------------

type UserClass = new () => USocket;

/**
 * The class `name` declared in `file`, compiled on its own, with `USocket` and `scope` as the
 * only names it can see. The example stays a plain script: nothing in it is there for this spec.
 */
function classFromExample(file: string, name: string, scope: Record<string, unknown> = {}): UserClass {
  const source = ts.createSourceFile(file, readFileSync(path.join(root, file), 'utf8'), ts.ScriptTarget.ES2022, true);
  const declaration = source.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === name);
  if (!declaration) throw new Error(`${file} declares no class ${name}`);
  const code = declaration.getText(source).replace(/^export\s+/, '');
  const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS } }).outputText;
  const names = { USocket, ...scope };
  return new Function(...Object.keys(names), `${js}\nreturn ${name};`)(...Object.values(names)) as UserClass;
}

// ---------------------------------------------------------------------------------------
// A peer that never reads
// ---------------------------------------------------------------------------------------

const FLOOD = 32 * 1024 * 1024;
const READ_AHEAD = 256 * 1024;
/**
 * Generous: what the kernel buffers on loopback in both directions, plus the read-ahead (about
 * 4.5 MiB on Linux with the default tcp_rmem/tcp_wmem), with room for larger buffers. The old
 * examples take the whole flood.
 */
const TAKEN_AT_MOST = FLOOD / 2;

interface Outcome {
  /** Bytes the server's connection took from the network. */
  bytesReceived: number;
  /** The server's read-ahead: full means it stopped reading. */
  readAheadBytes: number;
  /** Answers accepted by `send` and not yet handed to the OS. */
  queuedSendBytes: number;
  /** Bytes taken after the server had stopped (or had taken everything): none expected. */
  takenAfterwards: number;
}

/**
 * Accepts one connection with `user` (started by `start`, as its transport would), connects a
 * raw client that writes FLOOD bytes and never reads, and waits until the server either
 * stopped reading (read-ahead full) or took all of it.
 */
async function floodWithoutReading(user: USocket, start: 'socketAcceptComplete' | 'socketUpgradeToTlsComplete'): Promise<Outcome> {
  const tcp = createTcpSocketProvider();
  let accepted: ISocket | null = null;
  let listenerEnded: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (listenerEnded = resolve));
  const bound = new Promise<number>((resolve) => {
    const listener = tcp.createSocket(
      new (class extends USocket {
        override socketBindResult(s: ISocket, _addr: string, port: number) {
          s.listen();
          resolve(port);
        }
        override socketListenResult(s: ISocket) {
          s.accept(this);
        }
        override socketAcceptComplete(s: ISocket) {
          accepted = s;
          listener.shutdown(); // one connection is all this test needs
          s.setUser(user);
          user[start](s);
        }
        override socketShutdown() {
          listenerEnded();
        }
      })(),
      { readAheadBytes: READ_AHEAD },
    );
    listener.bind('127.0.0.1', 0);
  });
  const client: net.Socket = await rawConnect(await withTimeout(bound, 10000, 'the listener to bind'));
  client.pause(); // never reads
  client.write(Buffer.alloc(FLOOD, 0x61)); // Node writes it as the kernel accepts it
  await pollUntil(() => accepted !== null, 'the accept');
  const server = accepted as unknown as ISocket;
  try {
    await pollUntil(
      () => server.bytesReceived === FLOOD || server.stats().readAheadBytes >= READ_AHEAD,
      'the echo to stop reading or to take the whole flood',
      60000,
    );
    const { bytesReceived, readAheadBytes, queuedSendBytes } = server.stats();
    await settle(300); // the one fixed wait: nothing more may be taken once it stopped
    return { bytesReceived, readAheadBytes, queuedSendBytes, takenAfterwards: server.bytesReceived - bytesReceived };
  } finally {
    client.destroy();
    server.shutdown();
    await withTimeout(ended, 10000, 'the listener to end');
  }
}

/** `ended` and `text` as the examples declare them, for the classes that use them. */
const exampleScope = {
  ended: (who: string, reason: ShutdownReason) => undefined,
  text: (buf: Uint8Array, n: number) => Buffer.from(buf.subarray(0, n)).toString(),
};

const echoServers: Array<[what: string, make: () => USocket, start: 'socketAcceptComplete' | 'socketUpgradeToTlsComplete']> = [
  ['scripts/examples/tcp-echo.ts Echo (the README)', () => new (classFromExample('scripts/examples/tcp-echo.ts', 'Echo'))(), 'socketAcceptComplete'],
  ['scripts/examples/tls-echo.ts Echo', () => new (classFromExample('scripts/examples/tls-echo.ts', 'Echo', exampleScope))(), 'socketAcceptComplete'],
  [
    'scripts/examples/starttls.ts SecureServerSide',
    () => new (classFromExample('scripts/examples/starttls.ts', 'SecureServerSide', exampleScope))(),
    'socketUpgradeToTlsComplete',
  ],
  ['scripts/examples/socket-pair.ts UpperCaser', () => new (classFromExample('scripts/examples/socket-pair.ts', 'UpperCaser'))(), 'socketAcceptComplete'],
  ['scripts/demo/tcp.ts EchoConnection', () => new EchoConnection(), 'socketAcceptComplete'],
];

describe('echo examples hold back a peer that never reads', () => {
  afterEach(closeAllRaw);

  it.each(echoServers)(
    '%s stops reading with one answer in flight',
    async (_what, make, start) => {
      const outcome = await floodWithoutReading(make(), start);
      expect(outcome.bytesReceived).toBeLessThan(TAKEN_AT_MOST);
      expect(outcome.readAheadBytes).toBeGreaterThanOrEqual(READ_AHEAD);
      expect(outcome.queuedSendBytes).toBeLessThanOrEqual(64 * 1024); // one answer, not the flood
      expect(outcome.takenAfterwards).toBe(0);
    },
    90000,
  );
});

// ---------------------------------------------------------------------------------------
// The static check
// ---------------------------------------------------------------------------------------

const RECEIVING = new Set(['socketRecvResult', 'socketRecvFromResult', 'messageReceived']);
const SENDING = new Set(['send', 'sendTo', 'sendMessage']);
const READING = new Set(['recv', 'receiveNext']);

/** Every .ts file under `dir`, recursively. */
function tsFilesUnder(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) return tsFilesUnder(rel);
    return name.endsWith('.ts') ? [rel] : [];
  });
}

/** The ```ts blocks of a markdown file that are not copies of an example file (those are checked as files). */
function tsBlocksOf(doc: string): Array<{ where: string; code: string }> {
  const lines = readFileSync(path.join(root, doc), 'utf8').split('\n');
  const blocks: Array<{ where: string; code: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*```(ts|typescript)\s*$/.test(lines[i])) continue;
    const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l));
    if (!/<!-- example(-part)?: /.test(lines[i - 1] ?? '')) blocks.push({ where: `${doc}:${i + 1}`, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/**
 * Where a receiving callback asks for the next read after it sent (in source order). A read
 * before the send (the body of a frame whose header just arrived) is reading on, not answering.
 */
function unboundedReplies(where: string, code: string): string[] {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  /** The names of the methods called in `body`, in source order. */
  const calledMethods = (body: ts.Node): string[] => {
    const names: string[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) names.push(node.expression.name.text);
      ts.forEachChild(node, visit);
    };
    visit(body);
    return names;
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isMethodDeclaration(node) || ts.isPropertyAssignment(node)) && ts.isIdentifier(node.name) && RECEIVING.has(node.name.text)) {
      const called = calledMethods(node);
      const firstSend = called.findIndex((c) => SENDING.has(c));
      if (firstSend >= 0 && called.slice(firstSend + 1).some((c) => READING.has(c))) {
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        found.push(`${where} (line ${line}): ${node.name.text} sends and reads again at once`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('no example reads again before its answer was sent', () => {
  const files = [...tsFilesUnder('scripts/examples'), 'scripts/demo.ts', ...tsFilesUnder('scripts/demo')];
  const docs = [
    'README.md',
    ...readdirSync(path.join(root, 'docs'))
      .filter((n) => n.endsWith('.md'))
      .map((n) => `docs/${n}`),
  ];

  it('the check finds the old pattern', () => {
    const old = 'class Echo { socketRecvResult(s: any, buf: Uint8Array, n: number) { s.send(buf, n); s.recv(buf, 64, true); } }';
    expect(unboundedReplies('old', old)).toHaveLength(1);
    const bounded = 'class Echo { socketRecvResult(s: any, buf: Uint8Array, n: number) { s.send(buf, n); } socketSendResult(s: any) { s.recv(this.buf); } }';
    expect(unboundedReplies('bounded', bounded)).toEqual([]);
    const framed = 'class Jobs { socketRecvResult(s: any, buf: Uint8Array) { if (buf === this.head) return s.recv(this.body); s.send(this.answer); } }';
    expect(unboundedReplies('framed', framed)).toEqual([]);
    const messages = 'const user = { messageReceived(ms: any, m: Uint8Array) { ms.sendMessage(m); ms.receiveNext(); } };';
    expect(unboundedReplies('messages', messages)).toHaveLength(1);
  });

  it.each(files)('%s', (file) => {
    expect(unboundedReplies(file, readFileSync(path.join(root, file), 'utf8'))).toEqual([]);
  });

  it.each(docs)('the code blocks of %s', (doc) => {
    expect(tsBlocksOf(doc).flatMap(({ where, code }) => unboundedReplies(where, code))).toEqual([]);
  });
});

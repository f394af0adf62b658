import { parseArgs } from 'node:util';
import type { SocketType } from '../index';

/** A command line the tool cannot run: printed with the usage, exit code 2. */
export class UsageError extends Error {}

/** What the command line asks for, checked for contradictions. */
export interface CliOptions {
  command: 'connect' | 'listen';
  transport: SocketType;
  /** As given: `HOST:PORT`, `[V6]:PORT`, `:PORT` (listen), or a path (local). */
  address: string;
  starttls: boolean;
  /** tls --dtls: DTLS over UDP instead of TLS over TCP (listen: a DTLS listener serving many peers). */
  dtls: boolean;
  /** --starttls: the longest the plaintext exchange may take, from the connection to the upgrade; 0: no limit. */
  starttlsTimeoutMs: number;
  alpn: string[] | null;
  certFile: string | null;
  caFile: string | null;
  insecure: boolean;
  serverName: string | null;
  waitPeer: boolean;
  /** listen udp: a datagram listener that serves many peers (listen rudp and listen tls --dtls always do). */
  peers: boolean;
  verbose: boolean;
}

/** --starttls-timeout's default: long enough for a person typing into the other end, short enough to free the listener. */
export const DEFAULT_STARTTLS_TIMEOUT_MS = 30_000;

export type ParsedCommandLine = { help: true } | { help: false; options: CliOptions };

export const USAGE = `Usage: socket-provider connect tcp|tls|udp|local|rudp ADDRESS [options]
       socket-provider listen  tcp|tls|udp|local|rudp ADDRESS [options]

Pipes stdin to the socket and what the socket receives to stdout, and prints "listening on
ADDRESS" on stderr when listening. listen tcp|tls|local serves one connection; listen udp
answers the last peer heard from (--peers: serves many); listen rudp and listen tls --dtls
serve many peers (their data on stdout, [ADDR:PORT] first with --verbose; stdin to every peer).
udp and tls --dtls send each stdin read as a datagram; rudp sends each stdin line as a message.

ADDRESS  tcp/tls/udp/rudp: HOST:PORT or [IPv6]:PORT; listen also takes :PORT (all interfaces)
         and port 0 (the OS picks one). local: a socket path, or @NAME (Linux abstract name).

Options:
  --dtls              tls: DTLS 1.2 over UDP instead of TLS over TCP (DTLS-SRTP offered);
                      listen: a DTLS listener, every peer with a handshake of its own
  --starttls          tls: start in plaintext, do the SMTP STARTTLS exchange, then upgrade
  --starttls-timeout MS
                      --starttls: end the run (exit 15) if the exchange has not reached the
                      upgrade MS milliseconds after the connection (default 30000; 0: no limit)
  --alpn LIST         tls: ALPN protocols, comma separated, in order of preference (also with --dtls)
  --cert FILE         tls: PEM file with a certificate and its key (listen: required;
                      connect: the client certificate)
  --ca FILE           tls: PEM file of the authorities to trust (default: Node's root store);
                      listen: require a client certificate that they signed
  --insecure          tls connect: do not verify the server's certificate (warned)
  --server-name NAME  tls connect: the name the server's certificate must carry (and SNI;
                      with --dtls it is checked, not sent)
  --wait-peer         tcp/tls/local, connect rudp and connect tls --dtls: at the end of stdin
                      keep receiving until the peer closes (default: close once stdin is sent)
  --peers             listen udp: serve many peers on the port (a datagram listener): each
                      peer's datagrams go to stdout ([ADDR:PORT] first with --verbose), stdin
                      to every peer. Implied by listen rudp and listen tls --dtls.
  -v, --verbose       every socket event (all log flags) and the tool's progress on stderr
  -h, --help          this text

Exit codes: 0 closed normally or by the peer, 2 usage, 3 invalid address, 4 refused,
5 unreachable, 6 TLS handshake failed, 7 no ALPN in common, 8 address in use, 9 bind
failed, 10 listen failed, 11 accept failed, 12 connection lost, 13 no socket, 14 STARTTLS
exchange failed, 15 STARTTLS time-out, 1 local I/O error, 130/143 SIGINT/SIGTERM.
See docs/cli.md.
`;

const OPTIONS = {
  dtls: { type: 'boolean' },
  starttls: { type: 'boolean' },
  'starttls-timeout': { type: 'string' },
  alpn: { type: 'string' },
  cert: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  'server-name': { type: 'string' },
  'wait-peer': { type: 'boolean' },
  peers: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

const TRANSPORTS: readonly SocketType[] = ['tcp', 'tls', 'udp', 'local', 'rudp'];

/** Parses `argv` (without node and the script); throws UsageError for anything it cannot run. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const { values, positionals } = parseRaw(argv);
  if (values.help) return { help: true };
  if (positionals.length !== 3) throw new UsageError(`expected COMMAND TYPE ADDRESS, got ${positionals.length} argument(s)`);
  const [command, transport, address] = positionals;
  if (command !== 'connect' && command !== 'listen') throw new UsageError(`unknown command ${JSON.stringify(command)} (connect or listen)`);
  if (!(TRANSPORTS as readonly string[]).includes(transport)) throw new UsageError(`unknown type ${JSON.stringify(transport)} (tcp, tls, udp, local or rudp)`);
  if (address === '') throw new UsageError('empty ADDRESS');
  const options: CliOptions = {
    command,
    transport: transport as SocketType,
    address,
    starttls: values.starttls === true,
    dtls: values.dtls === true,
    starttlsTimeoutMs: values['starttls-timeout'] === undefined ? DEFAULT_STARTTLS_TIMEOUT_MS : parseMs('--starttls-timeout', values['starttls-timeout']),
    alpn: values.alpn === undefined ? null : parseAlpn(values.alpn),
    certFile: values.cert ?? null,
    caFile: values.ca ?? null,
    insecure: values.insecure === true,
    serverName: values['server-name'] ?? null,
    waitPeer: values['wait-peer'] === true,
    peers: values.peers === true,
    verbose: values.verbose === true,
  };
  checkCombinations(options);
  if (values['starttls-timeout'] !== undefined && !options.starttls) throw new UsageError('--starttls-timeout needs --starttls');
  return { help: false, options };
}

function parseRaw(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message); // unknown option, missing value…
  }
}

/** The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 0x7fffffff;

/** A whole number of milliseconds, 0..MAX_TIMER_MS. */
function parseMs(name: string, text: string): number {
  const ms = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(ms <= MAX_TIMER_MS)) throw new UsageError(`${name} ${JSON.stringify(text)}: expected milliseconds, a whole number 0..${MAX_TIMER_MS} (0: no limit)`);
  return ms;
}

function parseAlpn(list: string): string[] {
  const names = list.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw new UsageError(`--alpn ${JSON.stringify(list)}: an empty protocol name`);
  return names;
}

/** Options that make no sense together, or for this command and type. */
function checkCombinations(o: CliOptions): void {
  const tlsOnly: Array<[string, boolean]> = [
    ['--dtls', o.dtls],
    ['--starttls', o.starttls],
    ['--alpn', o.alpn !== null],
    ['--cert', o.certFile !== null],
    ['--ca', o.caFile !== null],
    ['--insecure', o.insecure],
    ['--server-name', o.serverName !== null],
  ];
  for (const [name, given] of tlsOnly) {
    if (given && o.transport !== 'tls') {
      const hint = name === '--starttls' ? ' (the connection starts as TCP and is upgraded: use type tls)' : '';
      throw new UsageError(`${name} needs type tls, not ${o.transport}${hint}`);
    }
  }
  if (o.command === 'listen') {
    if (o.insecure) throw new UsageError('--insecure is for connect (listen verifies client certificates only with --ca)');
    if (o.serverName !== null) throw new UsageError('--server-name is for connect');
    if (o.transport === 'tls' && o.certFile === null) throw new UsageError('listen tls needs --cert FILE (a PEM file with the certificate and its key)');
  }
  if (o.insecure && o.caFile !== null) throw new UsageError('--insecure and --ca contradict each other');
  if (o.dtls && o.starttls) throw new UsageError('--dtls and --starttls contradict each other (STARTTLS upgrades a TCP connection)');
  const manyPeers = o.command === 'listen' && (o.transport === 'udp' || o.transport === 'rudp' || o.dtls);
  if (o.peers && !manyPeers) throw new UsageError('--peers is for listen udp (listen rudp and listen tls --dtls always serve many peers)');
  if (o.waitPeer && o.transport === 'udp')
    throw new UsageError('--wait-peer needs a type whose peer can close (tcp, tls, local, rudp, tls --dtls): udp has no end from the peer');
  if (o.waitPeer && o.command === 'listen' && (o.transport === 'rudp' || o.dtls)) {
    throw new UsageError('--wait-peer is for connect here: a listener serving many peers ends at the end of stdin');
  }
}

import { ISocket, ShutdownReason, SocketOptions, USocket } from '../index';
import { formatAddress, isIpv6ConnectAddress, localSocketAddress, parseListenAddress } from './address';
import type { CliOptions } from './args';
import { Ending, ExitCode } from './exit';
import { MessageSession } from './message-session';
import { SessionEnv } from './pipe-session';
import { makePlan, Plan } from './plan';
import { Reporter } from './report';
import { StdinSource } from './stdio';

/** Runs the command: one socket (listen: a listener and the connections it accepts) piped to stdio. */
export function run(o: CliOptions): void {
  const reporter = new Reporter(o.verbose);
  const ending = new Ending(o.verbose);
  process.on('SIGINT', () => ending.interrupt(ExitCode.Interrupted, 'SIGINT'));
  process.on('SIGTERM', () => ending.interrupt(ExitCode.Terminated, 'SIGTERM'));
  const env: SessionEnv = { reporter, ending, stdin: new StdinSource() };
  const plan = makePlan(o, env);
  const options: SocketOptions = { log: reporter.log, context: plan.context };
  if (o.command === 'connect') connect(o, env, plan, options);
  else listen(o, env, plan, options);
}

function connect(o: CliOptions, env: SessionEnv, plan: Plan, options: SocketOptions): void {
  const local = o.transport === 'local';
  const address = local ? localSocketAddress(o.address) : o.address;
  const socket = plan.provider.createSocket(plan.user, { ...options, ipv6: !local && isIpv6ConnectAddress(address) });
  env.ending.setCloser(() => socket.shutdown());
  env.reporter.info(`connecting to ${o.address} (${o.transport}${o.starttls ? ', STARTTLS' : ''}${o.dtls ? ', DTLS' : ''})`);
  // The server name goes with the TLS handshake: to connect() for tls, to the upgrade for STARTTLS and DTLS.
  const serverName = o.starttls || o.dtls ? undefined : (o.serverName ?? undefined);
  socket.connect(address, serverName);
}

function listen(o: CliOptions, env: SessionEnv, plan: Plan, options: SocketOptions): void {
  const local = o.transport === 'local';
  const where = local ? { host: localSocketAddress(o.address), port: 0, ipv6: false } : parseListenAddress(o.address);
  if (typeof where === 'string') {
    env.ending.exit(ExitCode.AddressInvalid, `invalid address: ${where} (${ShutdownReason.AddressInvalid})`);
    return;
  }
  // A listener of many peers and a bound UDP socket are their own users; a stream listener hands its one connection to the session.
  const user = plan.peers || plan.user instanceof MessageSession ? plan.user : new Listener(env, plan.user, local);
  const socket = plan.provider.createSocket(user, { ...options, ipv6: where.ipv6 });
  env.ending.setCloser(() => socket.shutdown());
  socket.bind(where.host, where.port);
  if (plan.peers) socket.listen(); // listens once bound
}

/**
 * A stream listener that takes one connection: it accepts the first for `connection` and
 * stops listening at once (a local listener removes its socket file), so later clients are
 * refused instead of waiting. If it fails before that, its reason ends the run.
 */
class Listener extends USocket {
  private accepted = false;

  constructor(
    private readonly env: SessionEnv,
    private readonly connection: USocket,
    private readonly local: boolean,
  ) {
    super();
  }

  override socketBindResult(socket: ISocket, localAddr: string, localPort: number): void {
    this.env.reporter.notice(`listening on ${formatAddress(localAddr, localPort, this.local)}`);
    socket.listen();
  }

  override socketListenResult(socket: ISocket, remoteAddr: string, remotePort: number): void {
    if (this.accepted) return socket.accept(null);
    this.accepted = true;
    this.env.reporter.info(`connection from ${this.local ? 'a local socket' : formatAddress(remoteAddr, remotePort, false)}`);
    // Until the connection's user starts (after a TLS handshake), a signal just exits.
    this.env.ending.setCloser(null);
    socket.accept(this.connection);
    socket.shutdown();
  }

  override socketShutdown(_socket: ISocket, reason: ShutdownReason): void {
    if (!this.accepted) this.env.ending.byReason(reason);
  }
}

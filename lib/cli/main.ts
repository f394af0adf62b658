#!/usr/bin/env node
/**
 * `socket-provider`: a netcat-like command line tool built on the package's public API.
 * `connect` or `listen` over tcp, tls (also DTLS), udp, local sockets or rudp, piping stdin and stdout.
 * docs/cli.md has the options, the STARTTLS exchange and the exit codes.
 */
import { parseCommandLine, USAGE, UsageError } from './args';
import { ExitCode } from './exit';
import { run } from './run';

function main(argv: readonly string[]): void {
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.help) {
      process.stdout.write(USAGE);
      return;
    }
    run(parsed.options);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const synopsis = USAGE.split('\n').slice(0, 2).join('\n');
    process.stderr.write(`socket-provider: ${err.message}\n${synopsis}\nRun "socket-provider --help" for the options.\n`, () => process.exit(ExitCode.Usage));
  }
}

main(process.argv.slice(2));

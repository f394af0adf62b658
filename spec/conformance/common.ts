/**
 * Small pieces the conformance suites share: sizes, the expected text of a state error, and
 * the two recording users most tests put on the far end of a connection.
 */
import { SocketErrorCode } from '../../lib';
import { RecordingUser } from '../helpers/recording-user';

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const E = SocketErrorCode;

/** What `thrown()` returns for a SocketStateError with `code`. */
export const stateError = (code: string): string => `SocketStateError:${code}`;

/** Echo users: a partial recv always pending, every chunk sent back. */
export const echoUser = (label = 'echo'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB, echo: true });

/** Sink users: a partial recv always pending, collecting. */
export const sinkUser = (label = 'sink'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB });

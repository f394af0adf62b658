/** The checks of rudp's socket options and of a send's options (bad ones are programming errors: they throw). */
import type { SocketOptions } from '../../api';
import type { SendOptions } from '../../api-rudp';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../defaults';
import { checkCount, checkTimeout } from '../validate';
import type { LaneConfig } from './send-lanes';

export const DEFAULT_RUDP_IDLE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_MESSAGE_SIZE = 512 * 1024;
export const DEFAULT_MTU = 1200;

/** The settings a socket reads from its options (checked in the constructor). */
export interface RudpSettings {
  idleTimeoutMs: number;
  keepAliveMs: number;
  mtu: number;
  maxMessageSize: number;
  connectTimeoutMs: number;
  shutdownTimeoutMs: number;
  lanes: readonly LaneConfig[];
}

export function rudpSettings(o: SocketOptions): RudpSettings {
  const idleTimeoutMs = checkTimeout('idleTimeoutMs', o.idleTimeoutMs, DEFAULT_RUDP_IDLE_TIMEOUT_MS);
  const mtu = checkCount('mtu', o.mtu, DEFAULT_MTU, 576);
  if (mtu > 65507) throw new RangeError('mtu: at most 65507');
  return {
    idleTimeoutMs,
    keepAliveMs: checkTimeout('keepAliveMs', o.keepAliveMs, Math.floor(idleTimeoutMs / 3)),
    mtu,
    maxMessageSize: checkCount('maxMessageSize', o.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 0),
    connectTimeoutMs: checkTimeout('connectTimeoutMs', o.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    shutdownTimeoutMs: checkTimeout('shutdownTimeoutMs', o.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS),
    lanes: checkLanes(o.lanes),
  };
}

/** The lane index is one byte on the wire. */
export const MAX_LANES = 255;
const DEFAULT_LANES: readonly LaneConfig[] = [{ priority: 0, weight: 1 }];

/** The `lanes` option, checked and copied (the caller may change its array afterwards). */
export function checkLanes(value: unknown): readonly LaneConfig[] {
  if (value === undefined) return DEFAULT_LANES;
  if (!Array.isArray(value)) throw new TypeError('lanes: expected an array of { priority, weight }');
  if (value.length < 1 || value.length > MAX_LANES) throw new RangeError(`lanes: expected 1..${MAX_LANES} lanes, got ${value.length}`);
  return value.map((lane: unknown, i) => {
    if (typeof lane !== 'object' || lane === null) throw new TypeError(`lanes[${i}]: expected { priority, weight }`);
    const { priority, weight } = lane as Partial<LaneConfig>;
    if (typeof priority !== 'number' || !Number.isSafeInteger(priority))
      throw new RangeError(`lanes[${i}].priority: expected an integer, got ${String(priority)}`);
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0)
      throw new RangeError(`lanes[${i}].weight: expected a number > 0, got ${String(weight)}`);
    return { priority, weight };
  });
}

const DEFAULT_SEND = { reliable: true, lane: 0 } as const;

/** A send's options: whether it is reliable and its lane (an index below `lanes`). */
export function checkSendOptions(what: string, options: unknown, lanes: number): { readonly reliable: boolean; readonly lane: number } {
  if (options === undefined) return DEFAULT_SEND;
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what}: options must be an object`);
  const { reliable = true, lane = 0 } = options as SendOptions;
  if (typeof reliable !== 'boolean') throw new TypeError(`${what}: options.reliable must be a boolean`);
  if (typeof lane !== 'number') throw new TypeError(`${what}: options.lane must be a number`);
  if (!Number.isInteger(lane) || lane < 0 || lane >= lanes) throw new RangeError(`${what}: lane ${lane} is not one of this socket's lanes (0..${lanes - 1})`);
  return { reliable, lane };
}

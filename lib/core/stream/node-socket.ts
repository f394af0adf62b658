import type { Socket } from 'node:net';
import { directRead } from '../direct-read';
import { readPathStats } from '../node-internals';
import type { Address } from './transport';

/**
 * What listens to a Node socket: the connector while it connects, then the connection. Node's
 * events reach it through shared functions that find it by one property of the Node socket — no
 * closures per connection (memory per idle connection, #6).
 */
export interface NodeSocketOwner {
  /** A chunk from Node's 'data' event (a socket that could not be switched to `onread`). */
  handleData(chunk: Buffer): void;
  /** `onread`: `n` bytes in the shared scratch buffer, valid only during this call. */
  handleRead(n: number, scratch: Uint8Array): boolean;
  handleEnd(): void;
  handleError(err: NodeJS.ErrnoException): void;
  handleClose(): void;
}

/**
 * Where a Node socket keeps its owner: our own symbol on Node's object (it cannot clash with
 * Node's properties), not a Node internal.
 */
const OWNER = Symbol('socket-provider.connection');
type Owned = Socket & { [OWNER]?: NodeSocketOwner };

/** The owner of a Node socket, if any. */
export function ownerOf(sock: Socket): NodeSocketOwner | undefined {
  return (sock as Owned)[OWNER];
}

/** `owner` takes over the events of `sock`, which is attached already (connector to connection). */
export function setOwner(sock: Socket, owner: NodeSocketOwner): void {
  (sock as Owned)[OWNER] = owner;
}

/** Listens to `sock` for `owner`. */
export function attach(sock: Socket, owner: NodeSocketOwner): void {
  (sock as Owned)[OWNER] = owner;
  sock.on('data', onNodeData);
  sock.on('end', onNodeEnd);
  sock.on('error', onNodeError);
  sock.on('close', onNodeClose);
}

/** Stops listening to `sock` (a STARTTLS hand-over): it is left paused, with no owner. */
export function detach(sock: Socket): void {
  sock.pause();
  sock.removeListener('data', onNodeData);
  sock.removeListener('end', onNodeEnd);
  sock.removeListener('error', onNodeError);
  sock.removeListener('close', onNodeClose);
  delete (sock as Owned)[OWNER];
}

// Node calls event listeners and the onread callback with the Node socket as `this`.
function onNodeData(this: Socket, chunk: Buffer): void {
  readPathStats.data++;
  (this as Owned)[OWNER]?.handleData(chunk);
}
function onNodeEnd(this: Socket): void {
  (this as Owned)[OWNER]?.handleEnd();
}
function onNodeError(this: Socket, err: NodeJS.ErrnoException): void {
  (this as Owned)[OWNER]?.handleError(err);
}
function onNodeClose(this: Socket): void {
  (this as Owned)[OWNER]?.handleClose();
}

/**
 * The `onread` settings of every connection: one scratch buffer, one callback that finds the
 * owner (a socket with no owner is between owners and paused: nothing to read).
 */
export const DIRECT_READ = directRead(function (this: Socket, n: number, scratch: Uint8Array): boolean {
  readPathStats.onread++;
  const owner = (this as Owned)[OWNER];
  return owner ? owner.handleRead(n, scratch) : true;
});

/** `{ address, port }`, or null when Node has no address (a closed or local socket). */
export function addressOf(address: string | undefined, port: number | undefined): Address | null {
  return address === undefined ? null : { address, port: port ?? 0 };
}

/** Swallows a socket's errors while it is between owners (a handshake or a hand-over runs); they reach the new owner. */
export function ignoreError(): void {}

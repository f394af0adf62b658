/**
 * What a process holds: open file descriptors (/proc/self/fd) and the active resources Node
 * reports (`process.getActiveResourcesInfo()`: sockets, servers, timers, immediates…), counted
 * by type. For leak checks: take a snapshot before, and after the work wait (bounded) until no
 * count is above its "before" value.
 */
import { readdirSync } from 'node:fs';

export interface ResourceSnapshot {
  fds: number;
  resources: Record<string, number>;
}

export function snapshot(): ResourceSnapshot {
  const resources: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  return { fds: readdirSync('/proc/self/fd').length, resources };
}

/** What is above `before` in `now`: an empty list when nothing leaked. */
export function excess(before: ResourceSnapshot, now: ResourceSnapshot): string[] {
  const out: string[] = [];
  if (now.fds > before.fds) out.push(`${now.fds - before.fds} more file descriptors (${before.fds} -> ${now.fds})`);
  for (const [type, n] of Object.entries(now.resources)) {
    const was = before.resources[type] ?? 0;
    if (n > was) out.push(`${n - was} more ${type} (${was} -> ${n})`);
  }
  return out;
}

/**
 * Waits until nothing is above `before` (polling every 20 ms, up to `ms`), and returns what is
 * still above it then: an empty list once everything was released.
 */
export async function settleTo(before: ResourceSnapshot, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  let left = excess(before, snapshot());
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    left = excess(before, snapshot());
  }
  return left;
}

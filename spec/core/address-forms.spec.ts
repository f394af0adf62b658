/**
 * Every row of the "Address forms" table in docs/errors.md, checked against the parser that
 * connect() and bind() use, and the refused ones end to end through a real TCP socket (the
 * resolver must never see a numeric host: `0x7f000001` would quietly become 127.0.0.1).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createTcpSocketProvider, ShutdownReason } from '../../lib';
import { isAddressError, parseBindHost, parseHostPort } from '../../lib/core/address';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';

interface FormRow {
  address: string;
  ipv6: boolean;
  readAs: string;
  outcome: string;
}

function tableRows(): FormRow[] {
  const doc = readFileSync(path.resolve(__dirname, '../../docs/errors.md'), 'utf8');
  const start = doc.indexOf('<!-- address-forms:start -->');
  const end = doc.indexOf('<!-- address-forms:end -->');
  if (start < 0 || end < start) throw new Error('docs/errors.md has no address-forms table');
  return doc
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [first, readAs, outcome] = line
        .split('|')
        .slice(1, 4)
        .map((cell) => cell.trim());
      const address = /^`([^`]*)`/.exec(first)?.[1];
      if (address === undefined) throw new Error(`unreadable row ${line}`);
      return { address, ipv6: first.includes('(ipv6)'), readAs, outcome: outcome.replace(/`/g, '') };
    });
}

const rows = tableRows();
const refused = rows.filter((r) => r.outcome === 'SOCKET_ADDRESS_INVALID');
const numeric = refused.filter((r) => r.readAs.startsWith('numeric'));

afterEach(async () => {
  expect(await cleanupAndCheck()).toEqual([]);
});

describe('docs/errors.md address forms', () => {
  it('the table is there and covers the numeric forms', () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    expect(numeric.map((r) => r.address)).toEqual(expect.arrayContaining(['0x7f000001:80', '0x7f.1:80']));
  });

  it.each(rows.map((r) => [r.address, r.ipv6, r.readAs, r.outcome] as const))('%s (ipv6=%s): %s → %s', (address, ipv6, readAs, outcome) => {
    const result = parseHostPort(address, ipv6);
    if (outcome === 'SOCKET_ADDRESS_INVALID') {
      expect(isAddressError(result)).toBe(true);
    } else {
      expect(isAddressError(result)).toBe(false);
      if (!isAddressError(result)) expect(result.kind).toBe(readAs === 'name' ? 'name' : 'ip');
    }
  });

  it.each(numeric.map((r) => [r.address.slice(0, r.address.lastIndexOf(':'))]))('bind(%j) is refused as well', (host) => {
    expect(isAddressError(parseBindHost(host, false))).toBe(true);
  });

  it.each(refused.map((r) => [r.address, r.ipv6] as const))('connect(%j) with ipv6=%s ends SOCKET_ADDRESS_INVALID and nothing else', async (address, ipv6) => {
    const u = new RecordingUser('client');
    const s = createTcpSocketProvider().createSocket(u, { ipv6 });
    s.connect(address);
    expect(await u.waitForShutdown(s)).toBe(ShutdownReason.AddressInvalid);
    expect(u.names(s)).toEqual(['socketShutdown']);
  });
});

// `npm run bench` (`-- --quick` for a short run). The framework-versus-raw-Node workloads of
// issue #6 are not written yet; what is measured today is DTLS, which has no raw-Node
// counterpart. Figures are printed, not asserted: speed is never part of `npm test`.
import { benchDtls } from './dtls';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  console.log(`socket-provider bench (${quick ? 'quick' : 'full'}), Node ${process.version}`);
  console.log('note: the framework vs raw Node workloads (TCP, TLS, UDP, local) are not written yet.');
  const rows = await benchDtls(quick);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

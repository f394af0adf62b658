// `npm run bench`: the benchmark suite against raw Node is issue #6 and is not written yet.
// Until it is, this says so and fails, rather than printing figures nobody measured.
console.error('npm run bench: the benchmark suite (framework vs raw Node) is not written yet; see docs/README "Scripts".');
process.exit(2);

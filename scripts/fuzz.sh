#!/usr/bin/env bash
# Fuzzes the pure pipeline (parse → classify → thread → decide, and the
# reading of agents' mail) with cargo fuzz for SECONDS (default 600), starting
# from the real-world corpus when it is present. Needs a nightly toolchain
# and cargo-fuzz (`cargo install cargo-fuzz`).
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
seeds=fuzz/corpus/pipeline
mkdir -p "$seeds"
corpus=${POSTDESK_CORPUS:-$(cd .. && pwd)/shared/corpus}
if [ -d "$corpus" ]; then
  # Seeds are copied into the (git-ignored) fuzz work directory, never committed.
  find "$corpus" -name '*.eml' -exec cp -n {} "$seeds/" \;
fi
cargo +nightly fuzz run pipeline "$seeds" -- -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=4096

#!/usr/bin/env bash
# Runs every test of postdesk against real servers: starts a private Dovecot
# and Postfix on loopback (scripts/mailenv.sh), two Cyrus IMAP servers as the
# second kind of IMAP server (scripts/imapalt.sh; one without MOVE), makes
# sure PostgreSQL runs (scripts/postgres.sh), installs chromium for the HTML
# report test, runs `cargo test`, and stops the mail servers again.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh --test mail_flow).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/mailenv.sh install
scripts/imapalt.sh install
scripts/postgres.sh ensure

# The HTML report is checked in a real browser: Debian's chromium.
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test: installing chromium" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

root=$(mktemp -d /tmp/postdesk-mailenv.XXXXXX)
chmod 755 "$root"
cleanup() {
  scripts/imapalt.sh stop "$root/cyrus" || true
  scripts/imapalt.sh stop "$root/cyrus-nomove" || true
  scripts/mailenv.sh stop "$root" || true
  rm -rf "$root"
}
trap cleanup EXIT
base=${POSTDESK_TEST_BASEPORT:-12000}
scripts/mailenv.sh start "$root" "$base"
scripts/imapalt.sh start "$root/cyrus" $((base + 300))
scripts/imapalt.sh start "$root/cyrus-nomove" $((base + 400)) --no-move

export POSTDESK_MAILENV=$root
export POSTDESK_IMAPALT=$root/cyrus
export POSTDESK_IMAPALT_NOMOVE=$root/cyrus-nomove
export POSTDESK_CORPUS=${POSTDESK_CORPUS:-$(cd .. && pwd)/shared/corpus}
export POSTDESK_TEST_PG=${POSTDESK_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}
RUST_TEST_THREADS=${RUST_TEST_THREADS:-6} cargo test --locked "$@"

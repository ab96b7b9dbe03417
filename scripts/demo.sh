#!/usr/bin/env bash
# postdesk end to end on the embedded default (SQLite), with real mail
# servers on loopback: starts Dovecot and Postfix, runs the daemon, sends a
# customer mail over SMTP, and shows the ticket and the acknowledgement that
# arrived in the customer's inbox. Everything lives in one temporary
# directory, removed at the end (pass --keep to look around afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[ "${1:-}" = "--keep" ] && keep=true

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "building postdesk"
cargo build --locked --quiet
bin=$(pwd)/target/debug/postdesk

step "starting Dovecot (IMAP) and Postfix (SMTP) on loopback"
scripts/mailenv.sh install
demo=$(mktemp -d /tmp/postdesk-demo.XXXXXX)
chmod 755 "$demo"
base=${POSTDESK_DEMO_BASEPORT:-13000}
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  if ! $keep; then
    scripts/mailenv.sh stop "$demo/mail" || true
    rm -rf "$demo"
  else
    echo "kept: $demo (stop the mail servers with: scripts/mailenv.sh stop $demo/mail)"
  fi
}
trap cleanup EXIT
scripts/mailenv.sh start "$demo/mail" "$base"
# shellcheck disable=SC1091
. "$demo/mail/env"

cat > "$demo/postdesk.toml" <<CONF
[database]
url = "sqlite://postdesk.db"

[smtp]
host = "localhost"
port = $POSTDESK_MAILENV_SMTP_PORT
security = "starttls"
ca_file = "$POSTDESK_MAILENV_CA"

[[mailbox]]
name = "support"
address = "support@example.test"
display_name = "Example Support"
imap = { host = "localhost", port = $POSTDESK_MAILENV_IMAP_PORT, security = "starttls", username = "support@example.test", password_env = "DEMO_IMAP_PASSWORD", ca_file = "$POSTDESK_MAILENV_CA" }
idle = true
after_ingest = "move:Processed"
CONF
export DEMO_IMAP_PASSWORD=$POSTDESK_MAILENV_PASSWORD
export POSTDESK_CONFIG=$demo/postdesk.toml

step "postdesk check --connect"
"$bin" check --connect

step "postdesk run (log: $demo/postdesk.log)"
"$bin" run > "$demo/postdesk.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do grep -q "IMAP connected" "$demo/postdesk.log" && break; sleep 0.1; done

step "a customer writes to support@example.test"
swaks --silent 2 --server "127.0.0.1:$POSTDESK_MAILENV_SMTP_PORT" \
  --from jane@example.test --to support@example.test \
  --header "From: Jane Doe <jane@example.test>" --header "Subject: The printer on floor 2 shows E42" \
  --body $'Hello,\n\nthe printer on floor 2 shows error E42 since this morning.\n\nJane'
sent=$(date +%s%N)

inbox="$demo/mail/mail/example.test/jane/Maildir"
for _ in $(seq 1 300); do
  [ -n "$(ls "$inbox/new" 2>/dev/null)" ] && break
  sleep 0.1
done
ack=$(ls "$inbox"/new/* 2>/dev/null | head -n 1)
[ -n "$ack" ] || { echo "no acknowledgement arrived; log:"; cat "$demo/postdesk.log"; exit 1; }
echo "acknowledgement in Jane's inbox $(( ($(date +%s%N) - sent) / 1000000 )) ms after SMTP accepted her mail"

step "postdesk tickets list"
"$bin" tickets list
step "postdesk tickets show 1"
"$bin" tickets show 1
step "postdesk outbox list"
"$bin" outbox list
step "the acknowledgement as it arrived in Jane's inbox"
cat "$ack"

step "stopping postdesk (SIGTERM)"
kill "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""
tail -n 3 "$demo/postdesk.log"
echo
echo "demo finished"

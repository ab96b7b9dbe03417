#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests:
# installs Debian's package when it is missing and starts the cluster when
# it is stopped. Tests connect as the `postgres` role (trust on loopback).
#
#   scripts/postgres.sh ensure
set -euo pipefail

answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ensure() {
  if command -v pg_isready >/dev/null && answers; then
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "postgres: installing PostgreSQL" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    $sudo pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
  fi
  # Loopback connections as postgres without a password, for the tests only.
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q "postdesk-tests" "$hba"; then
    printf '# postdesk-tests\nhost all postgres 127.0.0.1/32 trust\n' | $sudo tee /tmp/postdesk-hba >/dev/null
    $sudo sh -c "cat '$hba' >> /tmp/postdesk-hba && cp /tmp/postdesk-hba '$hba'"
  fi
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  for _ in $(seq 1 50); do answers && return 0; sleep 0.2; done
  echo "postgres: the server did not come up on 127.0.0.1:5432" >&2
  exit 1
}

case "${1:-}" in
  ensure) ensure ;;
  *) echo "usage: $0 ensure" >&2; exit 64 ;;
esac

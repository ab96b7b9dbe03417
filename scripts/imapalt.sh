#!/usr/bin/env bash
# A second real IMAP server on loopback for postdesk's tests, beside the
# Dovecot of scripts/mailenv.sh: Cyrus IMAP 3.6 (Debian's cyrus-imapd), which
# behaves differently where it matters to a client:
#
#   - personal folders live under "INBOX." with "." as the separator
#     (altnamespace: no, unixhierarchysep: no): `CREATE Processed` is refused
#     (NO Permission denied: it would be a shared folder) and the folder to use
#     is `INBOX.Processed`; NAMESPACE answers (("INBOX." ".")) (("user." "."))
#     (("" ".")). These are Debian's settings, not upstream's (upstream 3.6
#     defaults to altnamespace and unixhierarchysep "yes"), so they are set
#     explicitly below.
#   - munge8bit: yes (the default): raw 8-bit bytes in the *headers* of an
#     APPENDed (or LMTP-delivered) message are stored as 'X', one per byte,
#     so a raw UTF-8 Greek Subject comes back as "XXXX XXXX"; the body is kept
#     as sent.
#   - with --no-move, MOVE is left out of CAPABILITY (suppress_capabilities).
#     Cyrus still executes a MOVE/UID MOVE that a client sends anyway.
#   - the CAPABILITY after login also lists LOGINDISABLED (Cyrus does that once
#     a session is authenticated); before login it does not, and LOGIN works
#     without TLS.
#   - UID STORE +FLAGS.SILENT (\Deleted) still gets an untagged FETCH back
#     (e.g. "* 1 FETCH (FLAGS (\Recent \Deleted) UID 2)").
#   - IDLE: Debian's Cyrus does not run idled (its cyrus.conf has it commented
#     out), so imapd polls the mailbox every imapidlepoll (60s) counted from
#     the IDLE command: a message another connection APPENDed 20s into the IDLE
#     showed up as "* N EXISTS" 40s later, 60.1s after IDLE began. That default
#     is kept. With --idled, idled runs and the EXISTS comes at once (observed
#     within 0.1s).
#
#   scripts/imapalt.sh install                          install if missing
#   scripts/imapalt.sh start DIR BASEPORT [--no-move] [--idled]
#   scripts/imapalt.sh stop DIR
#   scripts/imapalt.sh status DIR                       exit 0 when IMAP answers
#
# Ports: IMAP BASE+143 (plain; LOGIN and AUTHENTICATE PLAIN/LOGIN allowed
# without TLS), LMTP BASE+24 (no LMTP AUTH needed; an unknown recipient's INBOX
# is created on delivery). A BASE that a mailenv.sh instance uses collides on
# BASE+143 and BASE+24: give each its own. DIR/env holds the values for tests.
#
# Users: any login name with the password "secret" (the SASL sql plugin with
# a query that answers 'secret' for every name; a wrong password gets "NO Login
# failed: authentication failure" at once). virtdomains is on with the default
# domain example.test, so support@example.test (same user as a bare "support")
# and support2@example.test are distinct users. A user's INBOX is created at
# their first login or first LMTP delivery (autocreate_quota: 0,
# autocreate_post: yes); nothing else is pre-created. Avoid "." in the local
# part: Cyrus accepts first.last@example.test and creates its INBOX, but its
# LIST "" "*" then answers nothing (SELECT INBOX works).
#
# Install: Debian's cyrus-imapd conflicts with dovecot-imapd (both provide
# imap-server), so the .debs of cyrus-common and cyrus-imapd are unpacked with
# dpkg-deb -x into $PREFIX (default /opt/postdesk-cyrus) and only the libraries
# they need are installed with apt-get. Their maintainer scripts never run;
# this script creates the system user "cyrus" (group mail) that Cyrus insists
# on running as, and each instance's directories. Nothing is installed in
# /etc or started system-wide.
#
# Logs: Cyrus logs only to syslog (tag imapalt-BASE/...); where the machine
# has no /dev/log they are lost. DIR/log/master.log has master's stderr. For a
# protocol trace of one user, create the directory DIR/config/log/LOCALPART
# (e.g. DIR/config/log/support, owned by cyrus:mail) before that user logs in:
# Cyrus then writes each of their sessions there (file imap-PID).
set -euo pipefail

PREFIX=${POSTDESK_CYRUS_PREFIX:-/opt/postdesk-cyrus}
DEBS=(cyrus-common cyrus-imapd)
# Libraries only the tools that are never run here need (cyr_virusscan,
# notifyd): left out to keep the install small.
SKIP_DEPS='^(libclamav[0-9]*|libzephyr[0-9]*)$'
# PLAIN/LOGIN mechanisms and the sql auxprop plugin (sqlite3) for the passwords.
EXTRA_DEPS=(libsasl2-modules libsasl2-modules-sql)
CYRUS_USER=cyrus
CYRUS_GROUP=mail
PASSWORD=secret
DOMAIN=example.test

die() { echo "imapalt: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"

# Those of the named packages that are not installed, one a line.
missing_packages() {
  local ok
  ok=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null | awk '$2 == "ii" { print $1 }') || true
  printf '%s\n' "$@" | grep -vxF -e "$ok" -e '' || true
}

installed() {
  [ -f "$PREFIX/.installed" ] && [ -f "$PREFIX/.deps" ] && id -u "$CYRUS_USER" >/dev/null 2>&1 || return 1
  local deps
  mapfile -t deps < "$PREFIX/.deps"
  [ -z "$(missing_packages "${deps[@]}")" ]
}

install_cyrus() {
  installed && return 0
  mkdir -p "$(dirname "$PREFIX")"
  exec 9>"$PREFIX.lock"
  flock 9
  installed && return 0
  echo "imapalt: installing Cyrus IMAP into $PREFIX" >&2
  # Keep apt from starting any system-wide daemon.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  local tmp
  tmp=$(mktemp -d /var/tmp/imapalt.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  # apt downloads as _apt, which must be able to write there.
  chown _apt "$tmp" 2>/dev/null || chmod 777 "$tmp"
  apt-get update -qq -o DPkg::Lock::Timeout=600
  (cd "$tmp" && apt-get download -qq "${DEBS[@]}" >/dev/null) || die "apt-get download ${DEBS[*]} failed"
  local p deb debs=() deps=()
  for p in "${DEBS[@]}"; do
    deb=$(ls "$tmp"/"${p}"_*.deb) || die "no .deb for $p"
    debs+=("$deb")
  done
  # The libraries named in the packages' Depends (a "|" alternative: its first).
  mapfile -t deps < <(
    for deb in "${debs[@]}"; do dpkg-deb -f "$deb" Depends | tr ',' '\n'; done |
      sed -e 's/|.*//' -e 's/([^)]*)//g' -e 's/:any//' -e 's/[[:space:]]//g' |
      grep -E '^lib' | grep -vE "$SKIP_DEPS" | sort -u
  )
  mapfile -t deps < <(printf '%s\n' "${deps[@]}" "${EXTRA_DEPS[@]}" | sort -u)
  # Install only what is missing: naming an installed library would upgrade it.
  local missing
  mapfile -t missing < <(missing_packages "${deps[@]}")
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null ||
      die "apt-get install ${missing[*]} failed"
  fi
  rm -rf "$PREFIX.new"
  mkdir -p "$PREFIX.new"
  for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$PREFIX.new"; done
  dpkg-deb -f "${debs[1]}" Version > "$PREFIX.new/.installed"
  printf '%s\n' "${deps[@]}" > "$PREFIX.new/.deps"
  rm -rf "$PREFIX"
  mv "$PREFIX.new" "$PREFIX"
  # What cyrus-common's postinst would do: Cyrus refuses to run as root and
  # switches to this user.
  if ! id -u "$CYRUS_USER" >/dev/null 2>&1; then
    useradd --system --gid "$CYRUS_GROUP" --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin "$CYRUS_USER"
  fi
  rm -rf "$tmp"
  trap - EXIT
  echo "imapalt: installed cyrus-imapd $(cat "$PREFIX/.installed")" >&2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A zombie counts as gone: the machine's init reaps it in its own time.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# The processes of the instance at $ROOT: Cyrus programs from $PREFIX to which
# master passed the instance's own imapd.conf (the grep itself, whose
# arguments hold that path too, is not one).
instance_pids() {
  local f pid
  grep -lszxF -e "$ROOT/imapd.conf" /proc/[0-9]*/cmdline | while read -r f; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
      "$PREFIX"/*) alive "$pid" && echo "$pid" ;;
    esac
  done
  return 0
}

# Whether process $2 holds the socket listening on 127.0.0.1:$1.
owns_listener() {
  local hex inode inodes
  hex=$(printf '0100007F:%04X' "$1")
  mapfile -t inodes < <(awk -v a="$hex" '$2 == a && $4 == "0A" { print $10 }' /proc/net/tcp)
  for inode in "${inodes[@]}"; do
    find "/proc/$2/fd" -lname "socket:\[$inode\]" 2>/dev/null | grep -q . && return 0
  done
  return 1
}

# Cyrus master stays up when it cannot bind a service's port (it only logs
# that to syslog), so wait for the port to be master's own.
wait_listener() {
  local port=$1 what=$2 pid=$3
  for _ in $(seq 1 100); do
    owns_listener "$port" "$pid" && return 0
    alive "$pid" || fail "cyrus master exited (see $ROOT/log/master.log and syslog, tag imapalt-$BASE)"
    port_open "$port" && ! owns_listener "$port" "$pid" && fail "127.0.0.1:$port ($what) is taken by another process"
    sleep 0.1
  done
  fail "$what did not open 127.0.0.1:$port (another process bound to it? see $ROOT/log/master.log and syslog, tag imapalt-$BASE)"
}

# A start that fails leaves nothing running.
fail() {
  stop_quietly >/dev/null 2>&1 || true
  die "$@"
}

start() {
  ROOT=$1 BASE=$2
  shift 2
  local move=yes idled=no
  for a in "$@"; do
    case "$a" in
      --no-move) move=no ;;
      --idled) idled=yes ;;
      *) die "unknown option $a" ;;
    esac
  done
  [[ "$BASE" =~ ^[0-9]+$ ]] && [ "$BASE" -ge 1024 ] && [ "$BASE" -le 31000 ] || die "BASEPORT must be 1024-31000 (below the ephemeral range)"
  install_cyrus
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  [[ "$ROOT" =~ ^[A-Za-z0-9_./+@-]+$ ]] || die "DIR must be a path without spaces or quotes: $ROOT"
  local imap=$((BASE + 143)) lmtp=$((BASE + 24))
  stop_or_die
  port_open "$imap" && die "127.0.0.1:$imap (IMAP, BASE+143) is already in use"
  port_open "$lmtp" && die "127.0.0.1:$lmtp (LMTP, BASE+24) is already in use"

  chmod 755 "$ROOT"
  mkdir -p "$ROOT"/{config/{db,socket,proc,log,msg,user,quota,lock},spool,sieve,run/{proc,lock,socket},log}
  chown -R "$CYRUS_USER:$CYRUS_GROUP" "$ROOT"/{config,spool,sieve,run,log}
  setpriv --reuid "$CYRUS_USER" --regid "$CYRUS_GROUP" --clear-groups test -w "$ROOT/config" ||
    die "user $CYRUS_USER cannot reach $ROOT (a parent directory is closed to it): pick another DIR"
  # The "table" the sql auxprop plugin reads: no table at all, the SELECT
  # below answers the password for every user.
  [ -e "$ROOT/config/passwd.sqlite" ] || install -o "$CYRUS_USER" -g "$CYRUS_GROUP" -m 600 /dev/null "$ROOT/config/passwd.sqlite"

  local bin=$PREFIX/usr/lib/cyrus/bin libs
  libs=("$PREFIX"/usr/lib/*/libcyrus_min.so.0)
  local libdir=${libs[0]%/*}
  local conf=$ROOT/imapd.conf
  {
    cat <<CONF
configdirectory: $ROOT/config
defaultpartition: default
partition-default: $ROOT/spool
sievedir: $ROOT/sieve
proc_path: $ROOT/run/proc
mboxname_lockpath: $ROOT/run/lock
lmtpsocket: $ROOT/run/socket/lmtp
idlesocket: $ROOT/run/socket/idle
notifysocket: $ROOT/run/socket/notify
cyrus_user: $CYRUS_USER
cyrus_group: $CYRUS_GROUP
syslog_prefix: imapalt-$BASE
altnamespace: no
unixhierarchysep: no
munge8bit: yes
virtdomains: userid
defaultdomain: $DOMAIN
allowplaintext: yes
sasl_mech_list: PLAIN LOGIN
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sql
sasl_sql_engine: sqlite3
sasl_sql_database: $ROOT/config/passwd.sqlite
sasl_sql_select: SELECT '$PASSWORD'
autocreate_quota: 0
autocreate_post: yes
failedloginpause: 0
CONF
    [ "$move" = yes ] || echo "suppress_capabilities: MOVE"
  } > "$conf"
  {
    cat <<CONF
START {
  recover cmd="$bin/ctl_cyrusdb -C $conf -r"
}
SERVICES {
  imap cmd="$bin/imapd -C $conf" listen="127.0.0.1:$imap" prefork=0 maxchild=100
  lmtp cmd="$bin/lmtpd -C $conf -a" listen="127.0.0.1:$lmtp" prefork=0 maxchild=20
}
EVENTS {
  checkpoint cmd="$bin/ctl_cyrusdb -C $conf -c" period=30
}
CONF
    if [ "$idled" = yes ]; then
      printf 'DAEMON {\n  idled cmd="%s/idled -C %s"\n}\n' "$bin" "$conf"
    fi
  } > "$ROOT/cyrus.conf"

  rm -f "$ROOT/env" "$ROOT/run/master.pid"
  LD_LIBRARY_PATH=$libdir "$bin/master" -C "$conf" -M "$ROOT/cyrus.conf" -p "$ROOT/run/master.pid" \
    -d -L "$ROOT/log/master.log" </dev/null >/dev/null 2>&1 || fail "cyrus master did not start (see $ROOT/log/master.log)"
  local pid=""
  for _ in $(seq 1 100); do
    pid=$(cat "$ROOT/run/master.pid" 2>/dev/null) && [ -n "$pid" ] && break
    sleep 0.05
  done
  [ -n "$pid" ] || fail "cyrus master wrote no pid file (see $ROOT/log/master.log)"
  wait_listener "$imap" "IMAP, BASE+143" "$pid"
  wait_listener "$lmtp" "LMTP, BASE+24" "$pid"
  local poll=60 push=no
  [ "$idled" = yes ] && push=yes
  cat > "$ROOT/env" <<ENV
POSTDESK_IMAPALT_ROOT=$ROOT
POSTDESK_IMAPALT_BASE=$BASE
POSTDESK_IMAPALT_SERVER=cyrus
POSTDESK_IMAPALT_VERSION=$(cat "$PREFIX/.installed")
POSTDESK_IMAPALT_IMAP_PORT=$imap
POSTDESK_IMAPALT_LMTP_PORT=$lmtp
POSTDESK_IMAPALT_DOMAIN=$DOMAIN
POSTDESK_IMAPALT_PASSWORD=$PASSWORD
POSTDESK_IMAPALT_MOVE=$move
POSTDESK_IMAPALT_PERSONAL_PREFIX=INBOX.
POSTDESK_IMAPALT_SEPARATOR=.
POSTDESK_IMAPALT_MUNGE8BIT=yes
POSTDESK_IMAPALT_IDLE_PUSH=$push
POSTDESK_IMAPALT_IDLE_POLL_SECS=$poll
ENV
  echo "imapalt: cyrus imap :$imap lmtp :$lmtp (move $move, idled $idled), root $ROOT" >&2
}

stop_quietly() {
  local pid
  pid=$(cat "$ROOT/run/master.pid" 2>/dev/null) || pid=""
  # master ends its children when it gets SIGTERM.
  if [ -n "$pid" ] && alive "$pid" && grep -qszxF -e "$ROOT/imapd.conf" "/proc/$pid/cmdline"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
  fi
  # Whatever is left of this instance (a master without its pid file, a child
  # that outlived it).
  local left
  for sig in TERM KILL; do
    left=$(instance_pids)
    [ -z "$left" ] && break
    # shellcheck disable=SC2086
    kill -"$sig" $left 2>/dev/null || true
    for _ in $(seq 1 50); do [ -z "$(instance_pids)" ] && break; sleep 0.1; done
  done
  [ -z "$(instance_pids)" ] || return 1
  rm -f "$ROOT/run/master.pid"
}

stop_or_die() {
  stop_quietly || die "processes of $ROOT would not stop: $(instance_pids | tr '\n' ' ')"
}

stop() {
  ROOT=$1
  [ -d "$ROOT" ] || return 0
  ROOT=$(cd "$ROOT" && pwd)
  stop_or_die
}

status() {
  ROOT=$1
  [ -f "$ROOT/env" ] || exit 1
  # shellcheck disable=SC1091
  . "$ROOT/env"
  port_open "$POSTDESK_IMAPALT_IMAP_PORT"
}

case "${1:-}" in
  install) [ $# -eq 1 ] || die "usage: $0 install"; install_cyrus ;;
  start) [ $# -ge 3 ] || die "usage: $0 start DIR BASEPORT [--no-move] [--idled]"; start "${@:2}" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  status) [ $# -eq 2 ] || die "usage: $0 status DIR"; status "$2" ;;
  *) die "usage: $0 install | start DIR BASEPORT [--no-move] [--idled] | stop DIR | status DIR" ;;
esac

#!/usr/bin/env bash
# Real mail servers on loopback for postdesk's tests and demo: Dovecot (IMAP,
# IMAPS, LMTP) and Postfix (SMTP, delivering to Dovecot over LMTP). Nothing
# leaves the machine: Postfix accepts only *@example.test.
#
#   scripts/mailenv.sh install            install the Debian packages if missing
#   scripts/mailenv.sh start DIR BASEPORT start an instance rooted at DIR
#   scripts/mailenv.sh stop DIR           stop it
#   scripts/mailenv.sh status DIR         exit 0 when both servers answer
#
# Every address @example.test is a mailbox (created on first delivery) with the
# password "secret", so each test can use its own support/customer/agent
# addresses without sharing state. Ports: IMAP BASE+143, IMAPS BASE+993,
# LMTP BASE+24, SMTP BASE+25, SMTP with implicit TLS BASE+465. DIR/env holds the values for the tests.
#
# DIR/postfix/recipient_access (texthash) lets a test make Postfix answer
# 4xx/5xx for chosen recipients; `scripts/mailenv.sh reload DIR` applies it.
# Mail to nosuchuser*@example.test is accepted and then bounced by Postfix
# itself (a real DSN to the envelope sender), as for a mailbox that is gone.
# Mail to capture@pipe.example.test goes through Postfix's local(8) to a
# `|command` alias that writes the exact bytes it is handed to DIR/pipe/.
# SMTP AUTH (after STARTTLS) checks the same passwords as IMAP, through
# Dovecot's auth service.
#
# OAuth2: IMAP (both ports) and SMTP AUTH also take SASL XOAUTH2 and
# OAUTHBEARER with a JWT bearer token, which Dovecot checks itself against a
# local HS256 key (no token server). Fixed constants: kid "postdesk-test",
# issuer "postdesk-test-issuer", scope "mail". The key (32 random bytes, made
# once per DIR) is DIR/oauth/keys/default/HS256/postdesk-test (base64, what
# Dovecot reads) and DIR/oauth/hs256.hex (hex, for tests that mint tokens);
# DIR/oauth/kid and DIR/oauth/issuer hold the constants. A token is accepted
# for the login name equal to its "email" claim:
#   header  {"alg":"HS256","typ":"JWT","kid":"postdesk-test"}
#   payload {"iss":"postdesk-test-issuer","sub":"...","email":"support@example.test",
#            "scope":"mail","exp":UNIXTIME,"iat":UNIXTIME}
# (DIR/env: POSTDESK_MAILENV_OAUTH_KEY_HEX_FILE, _KID, _ISSUER, _SCOPE.) A
# refused token gets a SASL challenge (334 / "+" with a JSON error) that the
# client answers with an empty line before the failure comes. Failed logins
# (tokens and passwords) take ~0.5 s, with no growing penalty.
set -euo pipefail

PACKAGES=(dovecot-imapd dovecot-lmtpd dovecot-sieve postfix swaks openssl)
OAUTH_KID=postdesk-test
OAUTH_ISSUER=postdesk-test-issuer
OAUTH_SCOPE=mail

die() { echo "mailenv: $*" >&2; exit 1; }

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "mailenv: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Keep apt from starting the system-wide daemons on the standard ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

wait_port() {
  local port=$1 what=$2
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  die "$what did not open 127.0.0.1:$port (logs in $ROOT/log)"
}

start() {
  ROOT=$1 BASE=$2
  [[ "$BASE" =~ ^[0-9]+$ ]] && [ "$BASE" -ge 1024 ] && [ "$BASE" -le 31000 ] || die "BASEPORT must be 1024-31000 (below the ephemeral range)"
  install_packages
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  chmod 755 "$ROOT"
  mkdir -p "$ROOT"/{run,state,log,tls,mail,sieve,pipe,bin,postfix/queue,postfix/data}
  chown 5000:5000 "$ROOT/mail" "$ROOT/sieve"
  # local(8) runs alias commands as an unprivileged user: a drop box anyone may write.
  chmod 1777 "$ROOT/pipe"
  cat > "$ROOT/bin/capture" <<CAPTURE
#!/bin/sh
# Writes what Postfix's local(8) pipes to an alias command, byte for byte.
umask 022
f=\$(mktemp "$ROOT/pipe/msg.XXXXXXXX")
cat > "\$f" && mv "\$f" "\$f.eml"
CAPTURE
  chmod 755 "$ROOT/bin/capture"
  chown postfix "$ROOT/postfix/data"

  # OAuth2: the HS256 key Dovecot validates bearer tokens with. Dovecot's auth
  # process (user dovecot) reads it, so everything here is world-readable,
  # like the test TLS key.
  local oauth=$ROOT/oauth key=$ROOT/oauth/keys/default/HS256/$OAUTH_KID
  mkdir -p "$oauth/keys/default/HS256"
  chmod 755 "$oauth" "$oauth/keys" "$oauth/keys/default" "$oauth/keys/default/HS256"
  if [ ! -s "$key" ]; then
    openssl rand -base64 32 | tr -d '\n' > "$key.tmp"
    mv "$key.tmp" "$key"
  fi
  base64 -d < "$key" | od -An -v -tx1 | tr -d ' \n' > "$oauth/hs256.hex"
  echo "$OAUTH_KID" > "$oauth/kid"
  echo "$OAUTH_ISSUER" > "$oauth/issuer"
  chmod 644 "$key" "$oauth/hs256.hex" "$oauth/kid" "$oauth/issuer"
  cat > "$ROOT/oauth2.conf.ext" <<CONF
introspection_mode = local
local_validation_key_dict = fs:posix:prefix=$oauth/keys/
username_attribute = email
issuers = $OAUTH_ISSUER
scope = $OAUTH_SCOPE
CONF
  chmod 644 "$ROOT/oauth2.conf.ext"
  local imap=$((BASE + 143)) imaps=$((BASE + 993)) lmtp=$((BASE + 24)) smtp=$((BASE + 25))
  local refuser=$((BASE + 26)) smtps=$((BASE + 465))

  # A private CA (what postdesk is told to trust through ca_file) and a
  # server certificate it signed, for localhost and 127.0.0.1. Dovecot also
  # listens on 127.0.0.2, a name its certificate does not hold (for the
  # certificate-name-mismatch test).
  if [ ! -s "$ROOT/tls/cert.pem" ]; then
    local t=$ROOT/tls
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=postdesk test CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj /CN=localhost -keyout "$t/key.pem" -out "$t/server.csr" 2>/dev/null
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$t/server.ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
      -days 3650 -extfile "$t/server.ext" -out "$t/cert.pem" 2>/dev/null
    chmod 644 "$t"/*.pem
  fi

  cat > "$ROOT/dovecot.conf" <<CONF
protocols = imap lmtp
listen = 127.0.0.1, 127.0.0.2
base_dir = $ROOT/run/dovecot
state_dir = $ROOT/state
instance_name = postdesk-test-$BASE
log_path = $ROOT/log/dovecot.log
ssl = yes
ssl_cert = <$ROOT/tls/cert.pem
ssl_key = <$ROOT/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
# Bearer tokens are checked here and never reach the password passdb; that
# one stays without a mechanisms limit (LMTP delivery breaks with one).
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $ROOT/oauth2.conf.ext
  result_failure = return-fail
  result_internalfail = return-fail
}
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = uid=5000 gid=5000 home=$ROOT/mail/%Ld/%Ln
}
mail_location = maildir:~/Maildir
mail_fsync = never
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
submission_host = 127.0.0.1:$smtp
service imap-login {
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = $imaps
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    port = $lmtp
  }
}
service auth {
  unix_listener $ROOT/run/auth-smtp {
    mode = 0666
  }
}
# No growing delay after failed logins from 127.0.0.1 (up to 15 s otherwise).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
  postmaster_address = postmaster@example.test
}
plugin {
  sieve = file:$ROOT/sieve/%n;active=$ROOT/sieve/%n.sieve
}
CONF

  local pf=$ROOT/postfix
  cat > "$pf/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
maillog_file = $ROOT/log/postfix.log
maillog_file_prefixes = /tmp
myhostname = mail.example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
mydestination = pipe.example.test
alias_maps = texthash:$pf/aliases
alias_database =
local_recipient_maps = \$alias_maps
transport_maps = regexp:$pf/transport
smtpd_sasl_type = dovecot
smtpd_sasl_path = $ROOT/run/auth-smtp
smtpd_sasl_auth_enable = yes
smtpd_tls_auth_only = yes
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:$pf/recipient_access
recipient_delimiter = +
virtual_mailbox_domains = example.test
virtual_mailbox_maps = regexp:$pf/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:$lmtp
default_transport = error:outbound mail disabled in tests
relay_transport = error:outbound mail disabled in tests
smtpd_tls_cert_file = $ROOT/tls/cert.pem
smtpd_tls_key_file = $ROOT/tls/key.pem
smtpd_tls_security_level = may
message_size_limit = 104857600
mailbox_size_limit = 0
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_connection_rate_limit = 0
in_flow_delay = 0
CONF
  echo '/^[^@]+@example\.test$/ x' > "$pf/vmailbox"
  # A second SMTP listener that refuses every recipient stands for a remote
  # server: Postfix accepts mail to nosuchuser*, relays it there, is refused
  # and returns a DSN to the envelope sender, as it would for a real address.
  echo "/^nosuchuser[^@]*@example\\.test\$/ smtp:[127.0.0.1]:$refuser" > "$pf/transport"
  echo "capture \"|$ROOT/bin/capture\"" > "$pf/aliases"
  touch "$pf/recipient_access"
  # Debian's stock service lines, without chroot, with our SMTP listener.
  awk -v listen="127.0.0.1:$smtp" '
    /^#/ || NF == 0 { next }
    $1 == "smtp" && $2 == "inet" { print listen " inet n - n - - smtpd"; next }
    $NF == "pipe" { skip = 1; next }
    $2 == "unix" || $2 == "unix-dgram" || $2 == "fifo" || $2 == "pass" { skip = 0; $5 = "n"; print; next }
    /^[ \t]/ { if (!skip) print; next }
    { skip = 1; next }
  ' /etc/postfix/master.cf > "$pf/master.cf"
  # SMTP with TLS from the first byte (submissions, RFC 8314), as port 465.
  echo "127.0.0.1:$smtps inet n - n - - smtpd -o smtpd_tls_wrappermode=yes" >> "$pf/master.cf"
  echo "127.0.0.1:$refuser inet n - n - - smtpd -o myhostname=mx.elsewhere.test -o smtpd_recipient_restrictions=reject_unauth_destination,reject -o smtpd_relay_restrictions= -o smtpd_tls_security_level=none -o smtpd_sasl_auth_enable=no" >> "$pf/master.cf"

  stop_quietly
  dovecot -c "$ROOT/dovecot.conf" </dev/null >/dev/null 2>&1
  # postfix reports fatal errors only to syslog; script(1) shows them.
  if ! script -qec "postfix -c $pf start" /dev/null > "$ROOT/log/postfix-start.log" 2>&1 </dev/null; then
    cat "$ROOT/log/postfix-start.log" >&2
    die "postfix did not start"
  fi
  wait_port "$imap" dovecot
  wait_port "$lmtp" "dovecot lmtp"
  wait_port "$smtp" postfix
  wait_port "$smtps" "postfix (TLS)"
  cat > "$ROOT/env" <<ENV
POSTDESK_MAILENV_ROOT=$ROOT
POSTDESK_MAILENV_BASE=$BASE
POSTDESK_MAILENV_IMAP_PORT=$imap
POSTDESK_MAILENV_IMAPS_PORT=$imaps
POSTDESK_MAILENV_LMTP_PORT=$lmtp
POSTDESK_MAILENV_SMTP_PORT=$smtp
POSTDESK_MAILENV_SMTPS_PORT=$smtps
POSTDESK_MAILENV_CA=$ROOT/tls/ca.pem
POSTDESK_MAILENV_DOMAIN=example.test
POSTDESK_MAILENV_PASSWORD=secret
POSTDESK_MAILENV_OAUTH_KEY_HEX_FILE=$ROOT/oauth/hs256.hex
POSTDESK_MAILENV_OAUTH_KID=$OAUTH_KID
POSTDESK_MAILENV_OAUTH_ISSUER=$OAUTH_ISSUER
POSTDESK_MAILENV_OAUTH_SCOPE=$OAUTH_SCOPE
ENV
  echo "mailenv: dovecot imap :$imap imaps :$imaps lmtp :$lmtp, postfix smtp :$smtp smtps :$smtps, root $ROOT" >&2
}

stop_quietly() {
  [ -f "$ROOT/postfix/main.cf" ] && postfix -c "$ROOT/postfix" stop >/dev/null 2>&1 || true
  if [ -f "$ROOT/run/dovecot/master.pid" ]; then
    local pid
    pid=$(cat "$ROOT/run/dovecot/master.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}

stop() {
  ROOT=$1
  [ -d "$ROOT" ] || return 0
  stop_quietly
}

status() {
  ROOT=$1
  [ -f "$ROOT/env" ] || exit 1
  # shellcheck disable=SC1091
  . "$ROOT/env"
  (exec 3<>"/dev/tcp/127.0.0.1/$POSTDESK_MAILENV_IMAP_PORT") 2>/dev/null &&
    (exec 3<>"/dev/tcp/127.0.0.1/$POSTDESK_MAILENV_SMTP_PORT") 2>/dev/null
}

reload() {
  ROOT=$1
  postfix -c "$ROOT/postfix" reload >/dev/null 2>&1
}

# Stopping and starting one server of an instance, for fault tests.
stop_imap() {
  ROOT=$1
  local pid
  pid=$(cat "$ROOT/run/dovecot/master.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  # IMAP processes with open clients can outlive the master.
  . "$ROOT/env"
  pkill -f "postdesk-test-$POSTDESK_MAILENV_BASE/" 2>/dev/null || true
}

start_imap() {
  ROOT=$1
  dovecot -c "$ROOT/dovecot.conf" </dev/null >/dev/null 2>&1
  . "$ROOT/env"
  wait_port "$POSTDESK_MAILENV_IMAP_PORT" dovecot
}

# Delivers what Postfix queued while Dovecot was away, now.
flush() {
  ROOT=$1
  postqueue -c "$ROOT/postfix" -f >/dev/null 2>&1 || true
}

stop_smtp() {
  ROOT=$1
  postfix -c "$ROOT/postfix" stop >/dev/null 2>&1 || true
}

start_smtp() {
  ROOT=$1
  script -qec "postfix -c $ROOT/postfix start" /dev/null >/dev/null 2>&1 </dev/null
  . "$ROOT/env"
  wait_port "$POSTDESK_MAILENV_SMTP_PORT" postfix
}

case "${1:-}" in
  install) install_packages ;;
  start) [ $# -eq 3 ] || die "usage: $0 start DIR BASEPORT"; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  status) [ $# -eq 2 ] || die "usage: $0 status DIR"; status "$2" ;;
  reload) [ $# -eq 2 ] || die "usage: $0 reload DIR"; reload "$2" ;;
  stop-imap|start-imap|stop-smtp|start-smtp|flush)
    [ $# -eq 2 ] || die "usage: $0 $1 DIR"; "${1//-/_}" "$2" ;;
  *) die "usage: $0 install | start DIR BASEPORT | stop DIR | status DIR | reload DIR | stop-imap|start-imap|stop-smtp|start-smtp DIR" ;;
esac

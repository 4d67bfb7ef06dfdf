#!/usr/bin/env bash
# Makes sure the IMAP clients and servers we did not write are installed from Debian:
#   isync (mbsync)           for the end-to-end test tests/e2e/test_mbsync.py (`make test`);
#   fetchmail                for the POP3 end-to-end test tests/pop3/test_fetchmail.py;
#   dovecot-imapd (--dovecot) for bench/imap.py, which runs it beside Mailroom, and the
#                             fetching tests (tests/fetching: the "other server"; `make test`);
#   dovecot-pop3d (--dovecot) for bench/pop3.py and the fetching tests, likewise;
#   rspamd (--rspamd)         the spam filter tests/inbound scans with (started per test
#                             session on loopback high ports with a scratch config, never the
#                             system service, which stays off) and `manage.py runall` starts.
# Idempotent and quiet when all is there. Installing Dovecot never leaves a system Dovecot
# running on 143/993: service starts are refused during the install (policy-rc.d) and the
# unit is disabled afterwards; the benchmark starts its own Dovecot on loopback high ports.
# MBSYNC=/path/to/mbsync and DOVECOT=/path/to/dovecot use other binaries. (Not only IMAP tools
# any more: one script keeps one copy of the apt-get and no-service-start logic.)
set -euo pipefail

MBSYNC="${MBSYNC:-/usr/bin/mbsync}"
FETCHMAIL="${FETCHMAIL:-/usr/bin/fetchmail}"
DOVECOT="${DOVECOT:-/usr/sbin/dovecot}"
RSPAMD="${RSPAMD:-/usr/bin/rspamd}"
want_dovecot=0
want_rspamd=0
for arg in "$@"; do
  case "$arg" in
    --dovecot) want_dovecot=1 ;;
    --rspamd) want_rspamd=1 ;;
    *) echo "usage: $0 [--dovecot] [--rspamd]" >&2; exit 2 ;;
  esac
done

missing=()
[ -x "$MBSYNC" ] || missing+=(isync)
[ -x "$FETCHMAIL" ] || missing+=(fetchmail)
if [ "$want_dovecot" -eq 1 ]; then
  [ -x "$DOVECOT" ] || missing+=(dovecot-core)
  [ -e /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
  [ -e /usr/lib/dovecot/pop3 ] || missing+=(dovecot-pop3d)
fi
if [ "$want_rspamd" -eq 1 ]; then
  [ -x "$RSPAMD" ] || missing+=(rspamd)
fi
[ "${#missing[@]}" -eq 0 ] && exit 0

for bin in "$MBSYNC" "$DOVECOT"; do
  case "$bin" in /usr/bin/mbsync | /usr/sbin/dovecot) ;; *)
    if [ ! -x "$bin" ]; then echo "ensure-imap-tools: $bin is not an executable" >&2; exit 1; fi ;;
  esac
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-imap-tools: missing ${missing[*]} and no apt-get here; install them" \
    "and set MBSYNC=/path/to/mbsync (DOVECOT=/path/to/dovecot for the benchmark)" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
    echo "ensure-imap-tools: need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# Debian starts a daemon right after installing it (invoke-rc.d), on 143/993 for Dovecot.
# policy-rc.d exit 101 = "action forbidden": nothing starts. One already present (as in
# Docker images) is left alone; ours is removed again on exit.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ " ${missing[*]} " =~ \ (dovecot|rspamd) ]] && [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# ensure-imap-tools.sh: no service starts while it installs\nexit 101\n' \
    | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT

echo "ensure-imap-tools: installing ${missing[*]} (Debian packages)"
log="$(mktemp)"
# One lock wait: another apt-get (a colleague's install) may hold /var/lib/dpkg/lock.
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "ensure-imap-tools: apt-get install ${missing[*]} failed (see above)" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"

for service in dovecot rspamd; do
  [[ " ${missing[*]} " == *" $service"* ]] || continue
  # Belt and braces for machines whose policy let the service start: stop it and keep it off.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now "$service.service" >/dev/null 2>&1 || true
    [ "$service" = dovecot ] && { $sudo systemctl disable --now dovecot.socket >/dev/null 2>&1 || true; }
  elif command -v update-rc.d >/dev/null 2>&1; then
    $sudo invoke-rc.d "$service" stop >/dev/null 2>&1 || true
    $sudo update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
done

[ -x "$MBSYNC" ] || { echo "ensure-imap-tools: $MBSYNC still missing after installing isync" >&2; exit 1; }
[ -x "$FETCHMAIL" ] || { echo "ensure-imap-tools: $FETCHMAIL still missing after installing fetchmail" >&2; exit 1; }
if [ "$want_dovecot" -eq 1 ] && [ ! -x "$DOVECOT" ]; then
  echo "ensure-imap-tools: $DOVECOT still missing after installing dovecot-imapd" >&2
  exit 1
fi
if [ "$want_rspamd" -eq 1 ] && [ ! -x "$RSPAMD" ]; then
  echo "ensure-imap-tools: $RSPAMD still missing after installing rspamd" >&2
  exit 1
fi

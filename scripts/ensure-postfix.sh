#!/usr/bin/env bash
# Makes sure Debian's Postfix (with smtp-source, its load generator) and Dovecot's LMTP server
# are installed, for bench/compare.py only, which runs them beside Mailroom under a scratch
# directory of its own (config_directory, queue_directory, loopback high ports).
# Idempotent and quiet when all is there. Installing never configures or starts a system
# Postfix: debconf is told "No configuration" (no /etc/postfix/main.cf is written), service
# starts are refused during the install (policy-rc.d) and the units are disabled afterwards.
set -euo pipefail

missing=()
[ -x /usr/sbin/postfix ] || missing+=(postfix)
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-core)
[ -e /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
[ "${#missing[@]}" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-postfix: missing ${missing[*]} and no apt-get here; install them" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
    echo "ensure-postfix: need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# ensure-postfix.sh: no service starts while it installs\nexit 101\n' \
    | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT

# "No configuration": the package leaves /etc/postfix without a main.cf and touches nothing else.
printf 'postfix postfix/main_mailer_type select No configuration\n' | $sudo debconf-set-selections

echo "ensure-postfix: installing ${missing[*]} (Debian packages)"
log="$(mktemp)"
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "ensure-postfix: apt-get install ${missing[*]} failed (see above)" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"

for unit in postfix dovecot; do
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
  elif command -v update-rc.d >/dev/null 2>&1; then
    $sudo invoke-rc.d "$unit" stop >/dev/null 2>&1 || true
    $sudo update-rc.d "$unit" disable >/dev/null 2>&1 || true
  fi
done

for f in /usr/sbin/postfix /usr/sbin/smtp-source /usr/lib/dovecot/lmtp; do
  [ -e "$f" ] || { echo "ensure-postfix: $f still missing after the install" >&2; exit 1; }
done

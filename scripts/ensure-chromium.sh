#!/usr/bin/env bash
# Makes sure Debian's Chromium (and Korean and emoji fonts, for the screenshots) is installed
# for the browser tests (tests/browser/, bench/browser_list.py). Playwright drives this binary;
# Playwright's own browser download is never used. Idempotent and quiet when all is there.
# CHROMIUM=/path/to/chromium uses another binary (then only the fonts may be installed).
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
# Fonts for the screenshots: Hangul (fonts-nanum) and emoji (the list's 📎 and ★ marks).
if ! command -v fc-list >/dev/null 2>&1; then
  missing+=(fonts-nanum fonts-noto-color-emoji)
else
  fc-list :lang=ko 2>/dev/null | grep -q . || missing+=(fonts-nanum)
  fc-list 2>/dev/null | grep -qi 'color emoji' || missing+=(fonts-noto-color-emoji)
fi
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$CHROMIUM" != /usr/bin/chromium ] && [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: CHROMIUM=$CHROMIUM is not an executable" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: missing ${missing[*]} and no apt-get here; install Chromium and set CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
    echo "ensure-chromium: need root to apt-get install ${missing[*]} (or set CHROMIUM=/path/to/chromium)" >&2
    exit 1
  fi
fi
echo "ensure-chromium: installing ${missing[*]} (Debian packages) for the browser tests"
log="$(mktemp)"
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "ensure-chromium: apt-get install ${missing[*]} failed (see above)" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: $CHROMIUM still missing after installing chromium" >&2
  exit 1
fi

#!/usr/bin/env bash
# The system packages the test suite needs beside Python: Chromium (browser tests), curl and jq
# (the README's API examples, which a test runs) and a C compiler (make builds the record-level
# model's compiled parts, ecg/models/tree_walk.c and net_forward.c). Installs the missing ones when it may (root with apt-get); otherwise
# names exactly what to install and fails.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
command -v "${CC:-cc}" >/dev/null || missing+=(gcc libc6-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  exit 0
fi
echo "The tests need: ${missing[*]}. Install them, e.g. on Debian or Ubuntu:" >&2
echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
exit 1

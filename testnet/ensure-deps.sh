#!/usr/bin/env bash
# Installs the system packages the build needs when they are missing: m4 (GMP's build, for
# cggmp21) and a C compiler. Uses apt-get (as root, or through sudo).
set -euo pipefail
missing=()
command -v m4 >/dev/null 2>&1 || missing+=(m4)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v make >/dev/null 2>&1 || missing+=(make)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "==> installing missing build packages: ${missing[*]}"
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "please install: ${missing[*]} (e.g. apt-get install ${missing[*]})" >&2
  exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"

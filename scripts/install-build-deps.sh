#!/usr/bin/env bash
# Installs what scripts/build.sh needs besides the .NET SDK: clang and lld, with which the
# native-AOT compiler links the binary. Idempotent: it does nothing when they are there, and
# installs only what is missing, through apt-get, as root or with sudo. Where it cannot
# install, it prints one line saying what to install and exits 1.
set -euo pipefail

# package -> the command that shows it is installed
declare -A needs=([clang]=clang [lld]=ld.lld)
missing=()
for p in clang lld; do
  command -v "${needs[$p]}" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-build-deps: the native-AOT link needs ${missing[*]}; install them with your system's package manager" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo)
  elif command -v sudo >/dev/null 2>&1 && [ -t 0 ]; then
    SUDO=(sudo) # sudo asks for the password on this terminal
  else
    echo "install-build-deps: the native-AOT link needs ${missing[*]}: run 'sudo apt-get install ${missing[*]}' (or run this script as root)" >&2
    exit 1
  fi
fi
echo "install-build-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs KafScale on a systemd machine: the binary, the units, example settings, a dedicated
# system user and the data directory. Safe to run again: settings files that exist are kept.
#
#   sudo scripts/install.sh                      # out/kafscale (build it with scripts/build.sh)
#   sudo scripts/install.sh --binary ./kafscale  # a binary from elsewhere
#   scripts/install.sh --root ./image-root       # lay the files out under a directory (no user,
#                                                # no systemctl): for images and for checking
# Then edit /etc/kafscale/broker.env and: systemctl enable --now kafscale-broker
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

usage() {
  echo "usage: install.sh [--binary PATH] [--root DIR]" >&2
  exit 2
}

binary="$repo/out/kafscale"
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) [ $# -ge 2 ] || usage; binary="$2"; shift 2 ;;
    --root) [ $# -ge 2 ] || usage; root="${2%/}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

if [ ! -x "$binary" ]; then
  echo "install.sh: no executable at $binary: build it with scripts/build.sh or pass --binary PATH" >&2
  exit 1
fi
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo), or pass --root DIR to lay the files out under DIR" >&2
  exit 1
fi

bindir="$root/usr/local/bin"
unitdir="$root/etc/systemd/system"
confdir="$root/etc/kafscale"
datadir="$root/var/lib/kafscale"
docdir="$root/usr/local/share/doc/kafscale"

# The user first, so the directories below can be given to it.
if [ -z "$root" ] && ! id -u kafscale >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/kafscale --no-create-home \
    --shell /usr/sbin/nologin --comment "KafScale" kafscale
  echo "install.sh: created system user kafscale"
fi

install -d -m 0755 "$bindir" "$unitdir" "$docdir"
install -m 0755 "$binary" "$bindir/kafscale.new"
mv -f "$bindir/kafscale.new" "$bindir/kafscale"

for unit in "$repo"/scripts/systemd/*.service "$repo"/scripts/systemd/*.timer; do
  install -m 0644 "$unit" "$unitdir/$(basename "$unit")"
done

# Settings may hold credentials: readable by root and the kafscale group only. Never overwritten.
install -d -m 0750 "$confdir"
for example in "$repo"/scripts/systemd/*.env; do
  target="$confdir/$(basename "$example")"
  if [ -e "$target" ]; then
    echo "install.sh: keeping $target"
  else
    install -m 0640 "$example" "$target"
  fi
done

install -d -m 0750 "$datadir"
for doc in operations.md processors.md metrics.md architecture.md storage-format.md protocol.md; do
  if [ -f "$repo/docs/$doc" ]; then install -m 0644 "$repo/docs/$doc" "$docdir/$doc"; fi
done

if [ -z "$root" ]; then
  chown root:kafscale "$confdir" "$confdir"/*.env
  chown kafscale:kafscale "$datadir"
  systemctl daemon-reload
fi

echo "install.sh: installed $("$bindir/kafscale" version) into ${root:-/}"
echo "next: edit ${confdir}/broker.env, then: systemctl enable --now kafscale-broker"
echo "      (kafscale-processor, and kafscale-snapshot.timer for periodic metadata snapshots)"

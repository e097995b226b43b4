#!/bin/sh
# Makes the certificates of docker-compose.yml's "secured" profile (docs/security.md, "Docker
# Compose: a secured broker"): a CA, and a broker certificate the CA signs, in the directory given
# as the only argument. The compose file runs it once per `up` in a small container; certificates
# already there are kept, so clients that trust the CA keep working. Remove the volume (or the
# directory) to get new ones.
#
# Environment:
#   CERT_HOSTS  names and addresses the broker's certificate is valid for, separated by spaces
#               (default "127.0.0.1 localhost"); addresses become IP entries, names DNS entries
#   CERT_DAYS   validity in days (default 365)
#   CERT_OWNER  uid:gid to own the broker's key and certificate (the image runs as 10001:10001);
#               unset leaves them with whoever runs the script
set -eu

dir=${1:?usage: compose-secured-certs.sh DIRECTORY}
hosts=${CERT_HOSTS:-127.0.0.1 localhost}
days=${CERT_DAYS:-365}

mkdir -p "$dir"
cd "$dir"
if [ -s ca.crt ] && [ -s broker.crt ] && [ -s broker.key ]; then
  echo "compose-secured-certs: keeping the certificates in $dir"
  exit 0
fi

# subjectAltName: IP:... for addresses (IPv4 digits and dots, or IPv6 with a colon), DNS:... otherwise.
san=""
for host in $hosts; do
  case "$host" in
    *:*) entry="IP:$host" ;;
    *[!0-9.]*) entry="DNS:$host" ;;
    *) entry="IP:$host" ;;
  esac
  case ",$san," in
    *",$entry,"*) ;;
    *) san="${san:+$san,}$entry" ;;
  esac
done

# Private keys are readable by their owner only.
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
  -keyout ca.key -out ca.crt -subj /CN=kafscale-compose-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > broker.ext
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout broker.key -out broker.csr -subj /CN=kafscale-secured-broker
openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
  -extfile broker.ext -out broker.crt
rm -f broker.csr broker.ext ca.srl

# Certificates are public; the broker's key goes to the user the broker runs as.
chmod 644 ca.crt broker.crt
if [ -n "${CERT_OWNER:-}" ]; then
  chown "$CERT_OWNER" broker.key broker.crt
fi
echo "compose-secured-certs: wrote ca.crt, broker.crt and broker.key to $dir for $san"

#!/bin/sh
# Regenerates the weak certificates that cryptography refuses to make (SHA-1 and MD5
# signatures, X.509 v1, a 512-bit RSA key). Run from this directory with OpenSSL 3.x.
# The private keys are thrown away: the tests only read the certificates.
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# A self-signed SHA-1 root, and an intermediate it signs with SHA-1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out sha1-root.pem -sha1 -days 36500 \
  -subj "/O=camscan tests/CN=camscan weak SHA-1 root"
openssl req -new -newkey rsa:2048 -nodes -keyout int.key -out int.csr \
  -subj "/O=camscan tests/CN=camscan weak SHA-1 intermediate"
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > int.ext
openssl x509 -req -in int.csr -CA sha1-root.pem -CAkey root.key -set_serial 2 -sha1 -days 36500 \
  -extfile int.ext -out sha1-intermediate.pem

# One leaf key and request for 127.0.0.1, signed three ways.
openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=127.0.0.1"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA sha1-intermediate.pem -CAkey int.key -set_serial 3 -sha1 -days 36500 \
  -extfile leaf.ext -out sha1-leaf.pem
openssl x509 -req -in leaf.csr -CA sha1-root.pem -CAkey root.key -set_serial 4 -sha256 -days 36500 \
  -extfile leaf.ext -out sha256-leaf-under-sha1-root.pem
# No -extfile: OpenSSL writes an X.509 v1 certificate (no extensions at all).
openssl x509 -req -in leaf.csr -signkey leaf.key -sha256 -days 36500 -out v1-leaf.pem

# Self-signed leaves: MD5 signature; 512-bit RSA key.
openssl req -x509 -newkey rsa:2048 -nodes -keyout md5.key -out md5-leaf.pem -md5 -days 36500 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE"
openssl req -x509 -newkey rsa:512 -nodes -keyout r512.key -out rsa512-leaf.pem -sha256 -days 36500 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE"

cd - >/dev/null
cp "$work"/*.pem .

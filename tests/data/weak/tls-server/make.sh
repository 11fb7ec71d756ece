#!/bin/sh
# Regenerate the SHA-1 server certificate and key used by tests/scanner (a real TLS server
# must present it, so unlike its siblings in ../ the key is kept). cryptography refuses to
# sign with SHA-1, hence openssl. Test material only: never use this key anywhere else.
set -eu
cd "$(dirname "$0")"
openssl req -x509 -newkey rsa:2048 -nodes -keyout sha1-server.key -out sha1-server.pem -sha1 \
  -days 36500 -subj "/O=camscan tests/CN=camscan SHA-1 server" \
  -addext "subjectAltName=IP:127.0.0.1,IP:::1" -addext "basicConstraints=critical,CA:FALSE"

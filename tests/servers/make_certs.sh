#!/bin/sh
# make_certs.sh DIR — throw-away TLS material for herald's tests.
#
# Writes into DIR (created if missing):
#   ca.pem, ca.key           a test CA (trust it with --cacert / CURLOPT_CAINFO)
#   server.pem, server.key   a server certificate for 127.0.0.1 and localhost
#                            (subjectAltName), signed by that CA
#   untrusted.pem, untrusted.key
#                            a self-signed certificate for the same names, which
#                            no CA vouches for (bad-certificate tests)
# Keys are EC P-256: quick to make.  Nothing here is secret or kept.
set -eu

dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

san="subjectAltName=IP:127.0.0.1,DNS:localhost"
days=30

# A quiet OpenSSL: its chatter is shown only when it fails.
ossl() {
	if ! openssl "$@" 2>openssl.log; then
		cat openssl.log >&2
		exit 1
	fi
}

ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout ca.key -out ca.pem -days "$days" -subj "/CN=herald test CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign"

ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout server.key -out server.csr -subj "/CN=localhost"
printf '%s\n' "$san" "basicConstraints=CA:FALSE" \
	"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
	> server.ext
ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
	-days "$days" -extfile server.ext -out server.pem
rm -f server.csr server.ext ca.srl openssl.log

ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout untrusted.key -out untrusted.pem -days "$days" \
	-subj "/CN=localhost" -addext "$san"

rm -f openssl.log
chmod 600 ./*.key

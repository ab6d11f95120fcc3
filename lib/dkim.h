/*
 * dkim.h — DKIM signatures (RFC 6376) on finished messages (internal).
 *
 * SYNOPSIS
 *	const char *specs[] = {"rsa:s2026:acme.example:/etc/herald/rsa.pem",
 *			       "ed25519:e2026:acme.example:/etc/herald/ed.pem"};
 *	const char *omit[] = {"Message-ID"};
 *	hd_dkim *d;
 *	if (hd__dkim_new(specs, 2, omit, 1, &d, &err) != HD_OK) ...
 *	hd_buf sigs = HD_BUF_INIT;
 *	hd__dkim_sign(d, msg, len, time(NULL), &sigs, &err);
 *	... send sigs.data followed by msg ...
 *	hd__dkim_free(d);
 *
 * DESCRIPTION
 *	A spec names one signature: "ALG:SELECTOR:DOMAIN:KEYFILE", ALG being
 *	rsa (rsa-sha256, RFC 6376) or ed25519 (ed25519-sha256, RFC 8463).
 *	The key is a PEM private key (PKCS#8 "BEGIN PRIVATE KEY", or
 *	"BEGIN RSA PRIVATE KEY"), unencrypted, in a file others cannot read
 *	(secret.h); an RSA key has at least 1024 bits (RFC 8301 section 3.2:
 *	verifiers refuse shorter ones; 2048 is what to use).  KEYFILE is the
 *	rest of the spec after the third ':', so a path may hold ':'.  Keys
 *	are read and tried (one test signature each) by hd__dkim_new, once;
 *	no signing can fail for a reason the message could cause.
 *
 *	hd__dkim_sign takes a whole message as herald sends it (CRLF line
 *	ends, the header block ended by an empty line; "msg" below) and
 *	appends one "DKIM-Signature: ...\r\n" field per spec, in spec order,
 *	to sigs; the caller writes them before the message.  Every signature
 *	is relaxed/relaxed (section 3.4.2 and 3.4.4: robust against the
 *	re-folding and trailing blanks relays introduce), covers the whole
 *	body (no l= tag, which would let anyone append to it), carries
 *	t= (now) and no expiry, and signs the fields of this table that msg
 *	holds, each as many times as it occurs:
 *
 *	    From To Cc Subject Date Message-ID MIME-Version Content-Type
 *	    Reply-To List-Unsubscribe List-Unsubscribe-Post Feedback-ID
 *
 *	less those named in omit (case-insensitive), plus From and Subject
 *	once more ("oversigning", section 8.15: a From or Subject a relay or
 *	attacker adds later breaks the signature instead of being shown).
 *	Fields not in the table (X-Original-To, a relay's Received) are not
 *	signed, so adding them later keeps the signature valid.
 *	The signature fields are folded (lines within 78 characters); b= is
 *	last and is cut only at its own folds, as section 3.5 allows.
 *
 * CANONICALISATION
 *	hd__dkim_relaxed_header and hd__dkim_relaxed_body are the section
 *	3.4.2 and 3.4.4 algorithms, exposed for the tests (the section 3.4.6
 *	examples).  Header: the name lower-cased, folds unfolded, each run
 *	of blanks one space, no blanks around the colon or at the end, then
 *	CRLF.  Body: blanks at line ends dropped, runs of blanks inside a
 *	line made one space, empty lines at the end dropped, a CRLF after a
 *	last line that lacks one; an empty body stays empty.
 *
 * ERRORS
 *	hd__dkim_new: HD_EUSAGE for a malformed spec, an unknown ALG, a
 *	bad selector or domain, more than HD_DKIM_MAX specs, an omit name
 *	that is not in the table, or From in omit (section 5.4: From must
 *	be signed); HD_ENOENT for a key file that cannot be read; HD_ECONFIG
 *	for one others may read, that holds no usable key, a key of the
 *	wrong type for ALG or an RSA key under 1024 bits.  The error names
 *	the file, never the key.
 *	hd__dkim_sign: HD_EINVAL for a message without a header block,
 *	HD_ENOMEM; sigs is left as it was on failure.
 *
 * THREAD-SAFETY
 *	An hd_dkim is immutable once made: any number of threads may sign
 *	with it at once (OpenSSL 3 keys are safe to share read-only; each
 *	signature uses its own contexts).  hd__dkim_free must not race with
 *	signing.
 */
#ifndef HD_DKIM_H
#define HD_DKIM_H

#include "buf.h"
#include "herald.h"

#include <stddef.h>

#define HD_DKIM_MAX 8	    /* signatures per message */
#define HD_DKIM_OMIT_MAX 16 /* --dkim-omit names */

typedef struct hd_dkim hd_dkim;

/* Parses specs, reads and checks each key.  n may be 0: *out is NULL
 * then (nothing to sign with) and HD_OK is returned. */
hd_status hd__dkim_new(const char *const *specs, size_t n,
		       const char *const *omit, size_t nomit, hd_dkim **out,
		       hd_error *err);
void hd__dkim_free(hd_dkim *d);

/* Appends the DKIM-Signature fields for msg[0..len) to sigs; now is the
 * t= tag (seconds since the epoch). */
hd_status hd__dkim_sign(const hd_dkim *d, const char *msg, size_t len,
			long long now, hd_buf *sigs, hd_error *err);

/* Appends the relaxed form of one header field, field[0..n) being
 * "Name: value" with its folds and without its final CRLF. */
hd_status hd__dkim_relaxed_header(hd_buf *out, const char *field, size_t n);

/* Appends the relaxed form of body[0..n). */
hd_status hd__dkim_relaxed_body(hd_buf *out, const char *body, size_t n);

#endif

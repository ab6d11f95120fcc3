/*
 * unsub.h — one-click unsubscribe tokens (RFC 8058) (internal).
 *
 * SYNOPSIS
 *	hd_unsub_secret *sec;
 *	hd__unsub_secret_load("/etc/herald/unsub.secret", &sec, &err);
 *	hd__unsub_token(sec, campaign, key, &url_part);	    (herald send)
 *	hd__unsub_check(sec, token, len, &campaign, &key); (the server)
 *	hd__unsub_secret_free(sec);
 *
 * DESCRIPTION
 *	A token says "the recipient KEY of campaign CAMPAIGN asked to be
 *	unsubscribed", in a form that a server holding the same secret can
 *	check without a database, and that carries what the server records
 *	(the key).  It is
 *
 *	    "u1." B64(campaign) "." B64(key) "." B64(mac)
 *
 *	B64 being base64url without padding (RFC 4648 section 5: only
 *	A-Z a-z 0-9 - _, safe in a URL path segment as is) and mac the first
 *	16 bytes (128 bits) of HMAC-SHA256(secret, "herald-unsubscribe-1"
 *	NUL campaign NUL key).  Campaign and key are readable by whoever has
 *	the link, which is the recipient: nothing is hidden, everything is
 *	authenticated.  A token never expires (RFC 8058 asks that a link keep
 *	working); changing the secret revokes every link made with the old
 *	one.  The token has no '.' segment of its own and no '/', so it is
 *	one path segment.
 *
 *	The secret is the content of a private file (secret.h), trailing
 *	blanks and line ends stripped, at least HD_UNSUB_SECRET_MIN bytes:
 *	"head -c 32 /dev/urandom | base64 > FILE" makes a good one.
 *
 * ERRORS
 *	hd__unsub_secret_load: as hd__secret_read, and HD_ECONFIG for a
 *	secret that is too short.  hd__unsub_check: HD_EINVAL for anything
 *	but a token this secret made (malformed, forged, altered, or a key
 *	or campaign holding a control character); the MAC is compared in
 *	constant time.
 *
 * THREAD-SAFETY
 *	A loaded secret is immutable: any number of threads may make and
 *	check tokens with it at once.
 */
#ifndef HD_UNSUB_H
#define HD_UNSUB_H

#include "buf.h"
#include "herald.h"

#include <stddef.h>

#define HD_UNSUB_SECRET_MIN 16
#define HD_UNSUB_TOKEN_MAX 2048 /* longest token hd__unsub_check reads */

typedef struct hd_unsub_secret hd_unsub_secret;

hd_status hd__unsub_secret_load(const char *path, hd_unsub_secret **out,
				hd_error *err);
void hd__unsub_secret_free(hd_unsub_secret *s);

/* Appends the token for (campaign, key) to out. */
hd_status hd__unsub_token(const hd_unsub_secret *s, const char *campaign,
			  const char *key, hd_buf *out);

/* Checks token[0..n); on HD_OK *campaign and *key are malloc'd copies
 * (the caller frees them). */
hd_status hd__unsub_check(const hd_unsub_secret *s, const char *token, size_t n,
			  char **campaign, char **key);

#endif

/*
 * fuzz_smtp_reply.c — SMTP reply handling and redaction
 * (lib/smtp_reply.c), as the SMTP transport uses them.
 *
 * Input: the first line is the password (the user is "mailer"); every
 * further line ("\n"-separated, CRs kept) is a line from the server.
 * The secrets are made as the transport makes them: the password, its
 * base64 and the base64 AUTH PLAIN blob "\0mailer\0password".
 *
 * Promises checked: the kept text is NUL-terminated, within
 * HD__SMTP_REPLY_MAX, and its code a reply code (or 0); after redaction
 * the text is printable ASCII or valid UTF-8 (no controls, C1 included)
 * and holds none of the secrets of HD__REDACT_MIN bytes or more (shorter
 * ones are left on purpose: masking a password "e" would blot out every
 * 'e' and show it), unless a secret is made of the bytes redaction
 * writes, '*' and '?'.
 */
#include "encode.h"
#include "fuzz.h"
#include "redact.h"
#include "smtp_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int plain_secret(const char *s)
{
	return strlen(s) >= HD__REDACT_MIN && !strpbrk(s, "*?");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	const char *nl = memchr(p, '\n', size);
	char pw[256], text[HD__SMTP_REPLY_MAX], blob[300];
	char *secrets[3] = {pw, NULL, NULL};
	size_t pl = nl ? (size_t)(nl - p) : size, bl;
	hd_buf b64 = HD_BUF_INIT, plain = HD_BUF_INIT;
	hd__smtp_reply r;

	if (pl >= sizeof(pw))
		pl = sizeof(pw) - 1;
	memcpy(pw, p, pl);
	pw[pl] = '\0';
	pl = strlen(pw); /* a NUL ends it, as in a C string */
	bl = (size_t)snprintf(blob, sizeof(blob), "%cmailer%c%s", 0, 0, pw);
	if (hd_base64_encode(&b64, pw, pl, 0) != HD_OK ||
	    hd_base64_encode(&plain, blob, bl, 0) != HD_OK)
		fuzz_fail("out of memory");
	secrets[1] = b64.data ? b64.data : "";
	secrets[2] = plain.data;

	hd__smtp_reply_clear(&r);
	p = nl ? nl + 1 : end;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t n = e ? (size_t)(e - p) + 1 : (size_t)(end - p);
		hd__smtp_reply_line(&r, p, n);
		FUZZ_ASSERT(r.len < sizeof(r.text) && r.text[r.len] == '\0',
			    "reply text of %zu bytes, not NUL-ended", r.len);
		FUZZ_ASSERT(r.code == 0 || (r.code >= 200 && r.code <= 599),
			    "reply code %ld", r.code);
		p += n;
	}
	memcpy(text, r.text, r.len + 1);
	hd__smtp_redact(text, secrets, 3);
	FUZZ_ASSERT(strlen(text) <= r.len, "redaction grew the text");
	for (const char *q = text; *q; q++) {
		size_t u = (unsigned char)*q >= 0x80
			       ? hd__redact_utf8_len(q, strlen(q))
			       : 0;
		FUZZ_ASSERT((*q >= 0x20 && *q <= 0x7e) || u > 0,
			    "byte 0x%02x left in '%s'", (unsigned char)*q,
			    text);
		if (u > 0)
			q += u - 1;
	}
	for (int i = 0; i < 3; i++)
		FUZZ_ASSERT(
		    !plain_secret(secrets[i]) || !strstr(text, secrets[i]),
		    "secret %d ('%s') left in '%s'", i, secrets[i], text);
	hd_buf_free(&b64);
	hd_buf_free(&plain);
	return 0;
}

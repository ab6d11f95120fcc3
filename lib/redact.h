/*
 * redact.h — what herald keeps of text that came from the wire (internal).
 *
 * A server's reply (an SMTP reply, an HTTP reason phrase or body
 * snippet) goes into the report and onto the terminal.  Before it does,
 * hd__redact() makes it safe to keep, in place (the text never grows):
 *
 *   - each secret (the SMTP password and its base64 forms, a request's
 *     credential header values) becomes "***".  Secrets shorter than
 *     HD__REDACT_MIN bytes are left: masking a password "e" would blot
 *     out every 'e' of the reply and, by doing so, show what it is;
 *   - the value of a credential field the server wrote back
 *     (password=..., "token": "...", session: ..., Authorization:
 *     Bearer ...; the names are a table in redact.c) becomes "***";
 *   - C0 controls, DEL, C1 controls (U+0080..U+009F, which some
 *     terminals obey) and bytes that are not UTF-8 become '?'; valid
 *     UTF-8 stays as it is ("Empfänger unbekannt").
 *
 * Only for text from the wire: herald's own words around it ("server
 * does not offer AUTH") must never be rewritten, so a caller redacts
 * the reply first and quotes it into its message afterwards.
 *
 * Pure; thread-safe.
 */
#ifndef HD_REDACT_H
#define HD_REDACT_H

#include <stddef.h>

#define HD__REDACT_MIN 4 /* bytes a secret needs to be masked */

/* Redacts s (NUL-terminated) in place, as above; secrets[0..n) may hold
 * NULL or "" entries, which are skipped. */
void hd__redact(char *s, const char *const *secrets, size_t n);

/* The length of the UTF-8 sequence s[0..n) starts with when it is
 * valid, not ASCII and not a C1 control (what may stay of wire text);
 * else 0. */
size_t hd__redact_utf8_len(const char *s, size_t n);

/* 1 when an HTTP header of this name carries a credential
 * (Authorization, Cookie, anything with auth, token, secret, password,
 * api key, signature or session in its name). */
int hd__redact_secret_header(const char *name, size_t n);

#endif

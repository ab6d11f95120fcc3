/*
 * smtp_reply.h — what herald keeps of an SMTP server's replies (internal).
 *
 * libcurl hands the SMTP transport every line the server sends (its debug
 * callback, CURLINFO_HEADER_IN).  A reply is one or more lines "NNN-text"
 * ending with a line "NNN text" (RFC 5321 section 4.2); the transport
 * keeps the code and the text of the last reply, its lines joined by one
 * space, cut to HD__SMTP_REPLY_MAX - 1 bytes.  Lines that are not reply
 * lines are ignored, and so are 334 (an AUTH challenge: its text is part
 * of the credential exchange) and 221 (the reply to QUIT, sent when
 * libcurl closes a connection after the reply that matters).
 *
 * Before a reply text leaves the transport it is redacted (redact.h):
 * secrets (the password, its base64 forms) and credential fields become
 * "***", control bytes and bytes that are not UTF-8 '?'.  Only the
 * reply: herald's own text around it is never rewritten.
 *
 * Pure functions over caller-owned memory; thread-safe.
 */
#ifndef HD_SMTP_REPLY_H
#define HD_SMTP_REPLY_H

#include <stddef.h>

#define HD__SMTP_REPLY_MAX 512

typedef struct hd__smtp_reply {
	char text[HD__SMTP_REPLY_MAX]; /* the last reply's text, NUL-ended */
	size_t len;		       /* bytes in text */
	long code;		       /* its code; 0 before any reply */
	int open;	/* the last line seen was "NNN-": more follows */
	unsigned count; /* replies begun since the last clear */
} hd__smtp_reply;

/* Forgets every reply: code 0, empty text. */
void hd__smtp_reply_clear(hd__smtp_reply *r);

/* Takes one line p[0..n) from the server, with or without its CRLF. */
void hd__smtp_reply_line(hd__smtp_reply *r, const char *p, size_t n);

/* hd__redact (redact.h) of a reply text, with the connection's
 * secrets. */
void hd__smtp_redact(char *s, char *const *secrets, size_t nsecrets);

#endif

/* smtp_reply.c — SMTP reply lines and redaction; see smtp_reply.h. */
#include "smtp_reply.h"

#include "redact.h"

#include <string.h>

void hd__smtp_reply_clear(hd__smtp_reply *r)
{
	r->text[0] = '\0';
	r->len = 0;
	r->code = 0;
	r->open = 0;
	r->count = 0;
}

/* Appends s[0..n) to the reply text, space-separated, bounded. */
static void reply_add(hd__smtp_reply *r, const char *s, size_t n)
{
	size_t room = sizeof(r->text) - 1 - r->len;

	if (r->len && room) {
		r->text[r->len++] = ' ';
		room--;
	}
	if (n > room)
		n = room;
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len] = '\0';
}

void hd__smtp_reply_line(hd__smtp_reply *r, const char *p, size_t n)
{
	long code;

	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9' || (n > 3 && p[3] != ' ' && p[3] != '-'))
		return; /* not a reply line: nothing to keep */
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (code == 334 || code == 221)
		return;
	if (!r->open || code != r->code) {
		r->len = 0;
		r->text[0] = '\0';
		r->code = code;
		r->count++;
	}
	r->open = n > 3 && p[3] == '-';
	if (n > 4)
		reply_add(r, p + 4, n - 4);
}

void hd__smtp_redact(char *s, char *const *secrets, size_t nsecrets)
{
	hd__redact(s, (const char *const *)secrets, nsecrets);
}

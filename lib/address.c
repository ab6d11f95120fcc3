/* address.c — mailbox check and address-list parsing; see address.h. */
#include "address.h"

#include "buf.h"
#include "escape.h"

#include <stdlib.h>
#include <string.h>

/* RFC 5322 section 3.2.3 atext. */
static int is_atext(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int is_ldh(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static hd_status bad(hd_error *err, const char *msg)
{
	return hd_error_set(err, HD_EADDRESS, NULL, 0, 0, "%s", msg);
}

/* The first byte that no address may hold, in order of how much the
 * message helps: line breaks (header injection) before anything else. */
static hd_status check_bytes(const unsigned char *p, size_t len, hd_error *err)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return bad(err, "line break in address");
	for (i = 0; i < len; i++) {
		if (p[i] == '\0')
			return bad(err, "NUL byte in address");
		if (p[i] < 0x20)
			return bad(err, "control character in address");
		if (p[i] == 0x7F)
			return bad(err, "control character in address");
		if (p[i] >= 0x80)
			return bad(err, "non-ASCII address needs SMTPUTF8 "
					"(not supported)");
	}
	return HD_OK;
}

static hd_status check_local(const unsigned char *p, size_t n, hd_error *err)
{
	size_t i;

	if (n == 0)
		return bad(err, "empty local part");
	if (p[0] == '"')
		return bad(err, "quoted local part not accepted");
	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (i == 0)
				return bad(err, "local part starts with a dot");
			if (i + 1 == n)
				return bad(err, "local part ends with a dot");
			if (p[i + 1] == '.')
				return bad(err, "two dots in a row in local "
						"part");
			continue;
		}
		if (is_atext(p[i]))
			continue;
		if (p[i] == '(' || p[i] == ')')
			return bad(err, "comment in address not accepted");
		if (p[i] == '"')
			return bad(err, "quote in local part");
		if (p[i] == '\\')
			return bad(err, "backslash in local part");
		return hd_error_set(err, HD_EADDRESS, NULL, 0, 0,
				    "character '%c' not allowed in local part",
				    p[i]);
	}
	if (n > HD_LOCAL_PART_MAX)
		return bad(err, "local part too long");
	return HD_OK;
}

static hd_status check_domain(const unsigned char *p, size_t n, hd_error *err)
{
	size_t i, start = 0, tld = 0;
	int numeric;

	if (n == 0)
		return bad(err, "no domain after @");
	if (p[0] == '[')
		return bad(err, "address literal not accepted");
	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != '.') {
			if (is_ldh(p[i]))
				continue;
			if (p[i] == '@')
				return bad(err, "more than one @");
			if (p[i] == '(' || p[i] == ')')
				return bad(err,
					   "comment in address not accepted");
			if (p[i] == '[' || p[i] == ']')
				return bad(err, "address literal not "
						"accepted");
			return hd_error_set(err, HD_EADDRESS, NULL, 0, 0,
					    "character '%c' not allowed in "
					    "domain",
					    p[i]);
		}
		/* end of the label [start, i) */
		if (i == start) {
			if (start == 0)
				return bad(err, "domain starts with a dot");
			if (i == n)
				return bad(err, "domain ends with a dot");
			return bad(err, "two dots in a row in domain");
		}
		if (i - start > HD_LABEL_MAX)
			return bad(err, "domain label too long");
		if (p[start] == '-')
			return bad(err, "domain label starts with a hyphen");
		if (p[i - 1] == '-')
			return bad(err, "domain label ends with a hyphen");
		tld = start;
		start = i + 1;
	}
	if (n > HD_DOMAIN_MAX)
		return bad(err, "domain too long");
	numeric = 1;
	for (i = tld; i < n; i++)
		if (!is_digit(p[i]))
			numeric = 0;
	if (numeric)
		return bad(err, "numeric top-level domain");
	return HD_OK;
}

/* The invisible spaces spreadsheets leave around a cell's text. */
static size_t space_at(const char *s, size_t i, size_t end)
{
	static const struct {
		const char *s;
		size_t n;
	} wide[] = {{"\xC2\xA0", 2}, {"\xEF\xBB\xBF", 3}, {"\xE2\x80\x8B", 3}};
	unsigned char c = (unsigned char)s[i];

	if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
		return 1;
	if (c < 0x80)
		return 0; /* the wide ones are not ASCII */
	for (size_t k = 0; k < sizeof(wide) / sizeof(wide[0]); k++)
		if (end - i >= wide[k].n &&
		    !memcmp(s + i, wide[k].s, wide[k].n))
			return wide[k].n;
	return 0;
}

/* Is one of the invisible spaces the last thing in s[a..b)? */
static size_t space_before(const char *s, size_t a, size_t b)
{
	for (size_t n = 3; n >= 1; n--)
		if (b - a >= n && space_at(s, b - n, b) == n)
			return n;
	return 0;
}

void hd_address_trim(const char *s, size_t *a, size_t *b)
{
	size_t n;

	while (*a < *b && (n = space_at(s, *a, *b)) > 0)
		*a += n;
	while (*b > *a && (n = space_before(s, *a, *b)) > 0)
		*b -= n;
}

/* What a value that starts with a quote is: a quoted local part
 * ("john doe"@example.com), or a value the header escaper quoted whole
 * for what it holds, whose inside says what is wrong with it. */
static const char *quoted_what(const unsigned char *p, size_t len)
{
	char in[HD_ADDRESS_MAX + 2];
	size_t i = 1, n = 0;

	while (i < len && p[i] != '"') {
		if (p[i] == '\\' && i + 1 < len)
			i++;
		if (n < sizeof(in) - 1)
			in[n++] = (char)p[i];
		i++;
	}
	in[n] = '\0';
	if ((i + 1 < len && p[i + 1] == '@') ||
	    (in[0] == '"' && strchr(in, '@')))
		return "quoted local part not accepted";
	if (strpbrk(in, " \t"))
		return "white space inside the address";
	return "not an address: the value holds one of ( ) < > [ ] : ; , \\ "
	       "\"";
}

hd_status hd_address_check(const char *addr, size_t len, hd_error *err)
{
	const unsigned char *p = (const unsigned char *)addr;
	const unsigned char *at;
	hd_status st;

	if (!addr || len == 0)
		return bad(err, "empty address");
	if (memchr(p, '\r', len) || memchr(p, '\n', len))
		return bad(err, "line break in address");
	{
		size_t a = 0, b = len;
		hd_address_trim(addr, &a, &b);
		if (a > 0 || b < len)
			return bad(err, "white space around the address");
	}
	st = check_bytes(p, len, err);
	if (st != HD_OK)
		return st;
	/* A quoted local part may hold "@" and blanks; say what it is,
	 * not "more than one @" or "whitespace".  A quoted string with
	 * nothing after it is a value the header escaper quoted for what
	 * it holds, not a local part. */
	if (p[0] == '"')
		return bad(err, quoted_what(p, len));
	if (memchr(p, ' ', len))
		return bad(err, "white space inside the address");
	at = memchr(p, '@', len);
	if (!at)
		return bad(err, "no @");
	st = check_local(p, (size_t)(at - p), err);
	if (st != HD_OK)
		return st;
	st = check_domain(at + 1, len - (size_t)(at - p) - 1, err);
	if (st != HD_OK)
		return st;
	if (len > HD_ADDRESS_MAX)
		return bad(err, "address too long");
	return HD_OK;
}

/* ---- address lists ---------------------------------------------------- */

/* The list being built; grows by doubling. */
typedef struct list {
	hd_mailbox *v;
	size_t n, cap;
} list;

void hd_mailbox_list_free(hd_mailbox *l, size_t count)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < count; i++) {
		free(l[i].display);
		free(l[i].addr);
	}
	free(l);
}

/* Prefixes err->msg with the 1-based entry number, so that a user with a
 * long Cc: line knows which one is wrong. */
static hd_status at_entry(hd_error *err, hd_status st, size_t entry)
{
	char msg[sizeof(err->msg)];

	if (!err || st == HD_ENOMEM)
		return st;
	memcpy(msg, err->msg, sizeof(msg));
	return hd_error_set(err, st, NULL, 0, 0, "mailbox %zu: %s", entry, msg);
}

static char *dup_range(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* What entry_end() saw outside quotes and angle brackets. */
enum { SAW_ANGLE = 1, SAW_GROUP = 2, SAW_OPEN_QUOTE = 4 };

/* End of the entry that starts at i: the first "," outside quotes and
 * angle brackets, or len.  *saw gets SAW_ flags. */
static size_t entry_end(const char *s, size_t len, size_t i, int *saw)
{
	int quoted = 0, in_angle = 0;

	*saw = 0;
	for (; i < len; i++) {
		char c = s[i];

		if (quoted) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				quoted = 0;
			continue;
		}
		if (in_angle) {
			if (c == '>')
				in_angle = 0;
			continue;
		}
		if (c == '"') {
			quoted = 1;
		} else if (c == '<') {
			in_angle = 1;
			*saw |= SAW_ANGLE;
		} else if (c == ':' || c == ';') {
			*saw |= SAW_GROUP;
		} else if (c == ',') {
			break;
		}
	}
	if (quoted)
		*saw |= SAW_OPEN_QUOTE;
	return i;
}

/* A byte of a display name's word outside quotes. */
static int is_word_byte(unsigned char c)
{
	return is_atext(c) || c == '.' || c >= 0x80;
}

/* Decodes the display name s[a..b) (words: atoms, "." and quoted-strings,
 * separated by blanks or not) into d: quotes and escapes dropped, a run
 * of blanks between words made one space. */
static hd_status parse_phrase(const char *s, size_t a, size_t b, hd_buf *d,
			      hd_error *err)
{
	size_t i = a;
	int blank = 0;
	unsigned char c;

	while (i < b) {
		c = (unsigned char)s[i];
		if (is_blank((char)c)) {
			blank = 1;
			i++;
			continue;
		}
		if (blank && d->len && hd_buf_putc(d, ' ') != HD_OK)
			return HD_ENOMEM;
		blank = 0;
		if (c == '"') {
			for (i++; i < b && s[i] != '"'; i++) {
				if (s[i] == '\\') {
					if (++i == b)
						break;
				}
				if (hd_buf_putc(d, s[i]) != HD_OK)
					return HD_ENOMEM;
			}
			if (i >= b)
				return bad(err, "unclosed quoted string in "
						"display name");
			i++; /* closing quote */
			continue;
		}
		if (is_word_byte(c)) {
			size_t j = i + 1;

			/* the run of them at once */
			while (j < b && is_word_byte((unsigned char)s[j]))
				j++;
			if (hd_buf_append(d, s + i, j - i) != HD_OK)
				return HD_ENOMEM;
			i = j;
			continue;
		}
		return hd_error_set(err, HD_EADDRESS, NULL, 0, 0,
				    "character '%c' in display name needs "
				    "quotes",
				    c);
	}
	if (d->len > HD_DISPLAY_NAME_MAX)
		return hd_error_set(err, HD_ELIMIT, NULL, 0, 0,
				    "display name longer than %d bytes",
				    HD_DISPLAY_NAME_MAX);
	if (!hd_utf8_valid(d->data ? d->data : "", d->len, NULL))
		return hd_error_set(err, HD_EUTF8, NULL, 0, 0,
				    "display name is not valid UTF-8");
	return HD_OK;
}

/* s[a..b) without blanks at either end. */
static void trim(const char *s, size_t *a, size_t *b)
{
	while (*a < *b && is_blank(s[*a]))
		(*a)++;
	while (*b > *a && is_blank(s[*b - 1]))
		(*b)--;
}

/* Parses one entry s[a..b) into *mb. */
static hd_status parse_entry(const char *s, size_t a, size_t b, int angle,
			     hd_mailbox *mb, hd_error *err)
{
	hd_buf d = HD_BUF_INIT;
	size_t lt, gt, x, y;
	hd_status st;

	trim(s, &a, &b);
	if (!angle) {
		/* bare addr-spec; a blank inside is a name without <> or
		 * a missing comma, and "whitespace in address" would not
		 * say so */
		for (x = a; x < b; x++)
			if (is_blank(s[x]))
				return bad(err, "blank inside address "
						"(missing comma or <>?)");
		st = hd_address_check(s + a, b - a, err);
		if (st != HD_OK)
			return st;
		mb->addr = dup_range(s + a, b - a);
		return mb->addr ? HD_OK : HD_ENOMEM;
	}
	/* entry_end saw a top-level "<": find it again, skipping quotes. */
	for (lt = a; lt < b && s[lt] != '<'; lt++) {
		if (s[lt] == '"') {
			for (lt++; lt < b && s[lt] != '"'; lt++)
				if (s[lt] == '\\' && lt + 1 < b)
					lt++;
		}
	}
	gt = lt + 1;
	while (gt < b && s[gt] != '>' && s[gt] != '<')
		gt++;
	if (gt == b || s[gt] != '>')
		return bad(err, "missing > after address");
	for (x = gt + 1; x < b; x++)
		if (!is_blank(s[x]))
			return bad(err, "text after <address>");
	x = lt + 1;
	y = gt;
	trim(s, &x, &y);
	if (x == y)
		return bad(err, "empty <>");
	st = hd_address_check(s + x, y - x, err);
	if (st != HD_OK)
		return st;
	st = parse_phrase(s, a, lt, &d, err);
	if (st != HD_OK)
		goto out;
	mb->addr = dup_range(s + x, y - x);
	if (!mb->addr) {
		st = HD_ENOMEM;
		goto out;
	}
	if (d.len) {
		mb->display = hd_buf_detach(&d, NULL);
		if (!mb->display)
			st = HD_ENOMEM;
	}
out:
	hd_buf_free(&d);
	return st;
}

hd_status hd_mailbox_list_parse(const char *s, size_t len, hd_mailbox **out,
				size_t *count, hd_error *err)
{
	list l = {NULL, 0, 0};
	size_t i = 0, end, k;
	int saw;
	hd_status st = HD_OK;
	hd_mailbox *nv;

	*out = NULL;
	*count = 0;
	if (!s)
		len = 0;
	if (len > HD_MAILBOX_LIST_INPUT_MAX)
		return hd_error_set(err, HD_ELIMIT, NULL, 0, 0,
				    "address list longer than %d bytes",
				    HD_MAILBOX_LIST_INPUT_MAX);
	for (k = 0; k < len; k++) {
		unsigned char c = (unsigned char)s[k];

		if (c == '\r' || c == '\n')
			return bad(err, "line break in address list");
		if ((c < 0x20 && c != '\t') || c == 0x7F)
			return bad(err, "control character in address list");
	}
	for (k = 0; k < len && is_blank(s[k]); k++)
		;
	if (k == len)
		return bad(err, "empty address list");
	while (i <= len) {
		end = entry_end(s, len, i, &saw);
		if (l.n == HD_MAILBOX_LIST_MAX) {
			st = hd_error_set(err, HD_ELIMIT, NULL, 0, 0,
					  "more than %d addresses",
					  HD_MAILBOX_LIST_MAX);
			goto fail;
		}
		for (k = i; k < end && is_blank(s[k]); k++)
			;
		if (k == end) {
			st = at_entry(err, bad(err, "empty entry in list"),
				      l.n + 1);
			goto fail;
		}
		if (saw & SAW_OPEN_QUOTE) {
			st = at_entry(err, bad(err, "unclosed quote"), l.n + 1);
			goto fail;
		}
		if (saw & SAW_GROUP) {
			st = at_entry(err,
				      bad(err, "group syntax not supported"),
				      l.n + 1);
			goto fail;
		}
		if (l.n == l.cap) {
			l.cap = l.cap ? l.cap * 2 : 4;
			nv = realloc(l.v, l.cap * sizeof(*l.v));
			if (!nv) {
				st = HD_ENOMEM;
				goto fail;
			}
			l.v = nv;
		}
		l.v[l.n].display = NULL;
		l.v[l.n].addr = NULL;
		st = parse_entry(s, i, end, saw & SAW_ANGLE, &l.v[l.n], err);
		l.n++; /* counted even on failure, so that fail frees it */
		if (st != HD_OK) {
			st = at_entry(err, st, l.n);
			goto fail;
		}
		i = end + 1;
	}
	*out = l.v;
	*count = l.n;
	return HD_OK;
fail:
	if (st == HD_ENOMEM)
		hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	hd_mailbox_list_free(l.v, l.n);
	return st;
}

/* escape.c — one escaper per output context; see escape.h. */
#include "escape.h"

#include <stdint.h>
#include <string.h>

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at p (RFC 3629 section 4, the
 * UTF8-octets grammar), or 0 when it is not one.  The second-byte ranges
 * after E0, ED, F0 and F4 are what shut out overlong forms, surrogates
 * and code points above U+10FFFF. */
static size_t seq_len(const unsigned char *p, size_t left)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0; /* 80..C1: continuation or overlong lead; F5..FF */
	if (left < len)
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

int hd_utf8_valid(const char *s, size_t n, size_t *bad_offset)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		uint64_t w;

		/* most text is ASCII: eight bytes at a time while it is */
		if (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if (!(w & 0x8080808080808080u)) {
				i += 8;
				continue;
			}
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		k = seq_len(p + i, n - i);
		if (!k) {
			if (bad_offset)
				*bad_offset = i;
			return 0;
		}
		i += k;
	}
	return 1;
}

/* Checks s and fills err for an escaper that refuses invalid UTF-8. */
static hd_status check_utf8(const char *s, size_t n, hd_error *err)
{
	size_t bad = 0;

	if (hd_utf8_valid(s, n, &bad))
		return HD_OK;
	return hd_error_set(err, HD_EUTF8, NULL, 0, 0,
			    "invalid UTF-8 at byte %zu", bad);
}

/* Puts out back to the length it had before a failed escaper, so that a
 * failure never leaves half a value behind. */
static hd_status rollback(hd_buf *out, size_t len0, hd_status st, hd_error *err)
{
	out->len = len0;
	if (out->data)
		out->data[len0] = '\0';
	return hd_error_set(err, st, NULL, 0, 0, NULL);
}

hd_status hd_escape_text(hd_buf *out, const char *s, size_t n, hd_error *err)
{
	hd_status st = check_utf8(s, n, err);

	if (st != HD_OK)
		return st;
	if (hd_buf_append(out, s, n) != HD_OK)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	return HD_OK;
}

hd_status hd_escape_header(hd_buf *out, const char *s, size_t n, hd_error *err)
{
	size_t i;
	unsigned char c;

	/* Line breaks first: they are the injection this escaper exists
	 * for, and they get the message a user can act on. */
	for (i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n')
			return hd_error_set(err, HD_EHEADER, NULL, 0, 0,
					    "line break in header value");
	/* RFC 5322 section 2.2: a field body is printable characters and
	 * WSP; other controls are smuggling or garbage either way. */
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7F)
			return hd_error_set(err, HD_EHEADER, NULL, 0, 0,
					    "control character 0x%02X in "
					    "header value at byte %zu",
					    c, i);
	}
	return hd_escape_text(out, s, n, err);
}

hd_status hd_escape_raw_header(hd_buf *out, const char *s, size_t n,
			       hd_error *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			return hd_error_set(err, HD_EHEADER, NULL, 0, 0,
					    "line break in header value");
		if (s[i] == '\0')
			return hd_error_set(err, HD_EHEADER, NULL, 0, 0,
					    "NUL byte in header value");
	}
	if (hd_buf_append(out, s, n) != HD_OK)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	return HD_OK;
}

/* RFC 3986 section 2.3. */
static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* Percent-encodes every byte that is not unreserved; form mode writes a
 * space as '+'.  Runs of bytes kept as they are go in with one append. */
static hd_status percent_encode(hd_buf *out, const char *s, size_t n, int form,
				hd_error *err)
{
	size_t len0 = out->len, i = 0, run;
	unsigned char c;
	char pct[3];

	while (i < n) {
		run = i;
		while (run < n && unreserved((unsigned char)s[run]))
			run++;
		if (run > i && hd_buf_append(out, s + i, run - i) != HD_OK)
			return rollback(out, len0, HD_ENOMEM, err);
		i = run;
		if (i == n)
			break;
		c = (unsigned char)s[i++];
		if (form && c == ' ') {
			if (hd_buf_putc(out, '+') != HD_OK)
				return rollback(out, len0, HD_ENOMEM, err);
			continue;
		}
		pct[0] = '%';
		pct[1] = hex_upper[c >> 4];
		pct[2] = hex_upper[c & 15];
		if (hd_buf_append(out, pct, 3) != HD_OK)
			return rollback(out, len0, HD_ENOMEM, err);
	}
	return HD_OK;
}

/*
 * Everything outside the unreserved set is encoded, "/" included, so a
 * value is always exactly one path segment or one query component: it
 * cannot add "?", "#", "&", "=" or a segment.  A value of ".." stays
 * ".." (dots are unreserved), but with "/" encoded it is a segment of its
 * own only if the template put it between slashes; "../x" arrives as
 * "..%2Fx", which no resolver treats as a step up.
 */
hd_status hd_escape_url(hd_buf *out, const char *s, size_t n, hd_error *err)
{
	return percent_encode(out, s, n, 0, err);
}

hd_status hd_escape_form(hd_buf *out, const char *s, size_t n, hd_error *err)
{
	return percent_encode(out, s, n, 1, err);
}

static int alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

hd_status hd_escape_local_part(hd_buf *out, const char *s, size_t n,
			       hd_error *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len0 = out->len;
	hd_status st = HD_OK;

	for (size_t i = 0; st == HD_OK && i < n; i++) {
		unsigned char c = p[i];
		/* a dot only between two bytes that stay: never first, last
		 * or doubled, which a dot-atom forbids */
		int dot_ok = c == '.' && i > 0 && i + 1 < n &&
			     alnum(p[i - 1]) && alnum(p[i + 1]);
		if (alnum(c) || c == '-' || c == '_' || dot_ok) {
			st = hd_buf_putc(out, (char)c);
		} else if (c == '@') {
			st = hd_buf_putc(out, '=');
		} else {
			char e[3] = {'+', hex_upper[c >> 4], hex_upper[c & 15]};
			st = hd_buf_append(out, e, 3);
		}
	}
	return st == HD_OK ? HD_OK : rollback(out, len0, st, err);
}

hd_status hd_escape_json(hd_buf *out, const char *s, size_t n, hd_error *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len0 = out->len, i = 0, run;
	hd_status st;
	char esc[7];
	const char *rep;
	size_t rlen;

	st = check_utf8(s, n, err);
	if (st != HD_OK)
		return st;
	while (i < n) {
		run = i;
		while (run < n && p[run] >= 0x20 && p[run] != '"' &&
		       p[run] != '\\' && p[run] != 0x7F &&
		       !(p[run] == 0xE2 && run + 2 < n && p[run + 1] == 0x80 &&
			 (p[run + 2] == 0xA8 || p[run + 2] == 0xA9)))
			run++;
		if (run > i && hd_buf_append(out, s + i, run - i) != HD_OK)
			return rollback(out, len0, HD_ENOMEM, err);
		i = run;
		if (i == n)
			break;
		rep = esc;
		rlen = 2;
		esc[0] = '\\';
		switch (p[i]) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case 0xE2: /* U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEP. */
			rep = p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
			rlen = 6;
			i += 2;
			break;
		default: /* other C0 and DEL */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex_lower[p[i] >> 4];
			esc[5] = hex_lower[p[i] & 15];
			rlen = 6;
			break;
		}
		i++;
		if (hd_buf_append(out, rep, rlen) != HD_OK)
			return rollback(out, len0, HD_ENOMEM, err);
	}
	return HD_OK;
}

static int html_special(char c)
{
	return c == '&' || c == '<' || c == '>' || c == '"' || c == '\'';
}

hd_status hd_escape_html(hd_buf *out, const char *s, size_t n, hd_error *err)
{
	size_t len0 = out->len, i = 0, run;
	hd_status st;
	const char *rep;

	st = check_utf8(s, n, err);
	if (st != HD_OK)
		return st;
	while (i < n) {
		run = i;
		while (run < n && !html_special(s[run]))
			run++;
		if (run > i && hd_buf_append(out, s + i, run - i) != HD_OK)
			return rollback(out, len0, HD_ENOMEM, err);
		i = run;
		if (i == n)
			break;
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		default:
			rep = "&#39;";
			break;
		}
		i++;
		if (hd_buf_puts(out, rep) != HD_OK)
			return rollback(out, len0, HD_ENOMEM, err);
	}
	return HD_OK;
}

/*
 * Body escaping by Content-Type, first match wins.  A row whose type
 * starts with '+' matches a structured-syntax suffix (RFC 6839), so
 * application/problem+json and application/vnd.api+json are JSON too.
 */
static const hd_escape_row content_types[] = {
    {"application/json", hd_escape_json},
    {"+json", hd_escape_json},
    {"application/x-www-form-urlencoded", hd_escape_form},
    {"text/html", hd_escape_html},
};

#define HD_MEDIA_TYPE_MAX 128

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

hd_escape_fn hd_escape_for_content_type(const char *content_type)
{
	char type[HD_MEDIA_TYPE_MAX];
	size_t n = 0, i, plen;
	const char *p = content_type;

	if (!p)
		return hd_escape_text;
	while (*p == ' ' || *p == '\t')
		p++;
	while (p[n] && p[n] != ';' && p[n] != ' ' && p[n] != '\t') {
		if (n + 1 >= sizeof(type))
			return hd_escape_text; /* no real type is that long */
		type[n] = lower(p[n]);
		n++;
	}
	type[n] = '\0';
	for (i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
		const char *want = content_types[i].content_type_prefix;

		plen = strlen(want);
		if (want[0] == '+') {
			if (n > plen && !strcmp(type + n - plen, want))
				return content_types[i].escape;
		} else if (!strcmp(type, want)) {
			return content_types[i].escape;
		}
	}
	return hd_escape_text;
}

/*
 * json_check.c — a JSON text checked in one pass, nothing allocated.
 *
 * A recursive descent over the grammar of RFC 8259, with an explicit
 * depth so that no input can exhaust the stack.  See json_check.h for why
 * it exists and where it defers to jansson.
 */
#include "json_check.h"

#include "escape.h"

#include <string.h>

/* jansson stops at 2048 levels; deeper than this we let it decide. */
#define MAX_DEPTH 1000
/* 18 digits always fit in a 64-bit integer; more may not. */
#define MAX_INT_DIGITS 18
/* a fraction without an exponent overflows a double only past ~308
 * digits before the point */
#define MAX_REAL_DIGITS 300

struct scan {
	const unsigned char *p, *end;
	enum hd_json_verdict unsure; /* HD_JSON_UNSURE once anything was */
	int deep;		     /* gave up at MAX_DEPTH */
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return 0;
		v = v << 4 | d;
	}
	*out = v;
	return 1;
}

/* After the opening quote; leaves p after the closing one.  is_key: a
 * NUL in an object key is something jansson refuses on its own terms. */
static int string(struct scan *s, int is_key)
{
	while (s->p < s->end) {
		unsigned c = *s->p++;
		unsigned u, lo;

		if (c == '"')
			return 1;
		if (c < 0x20)
			return 0; /* a raw control character */
		if (c != '\\')
			continue; /* UTF-8 was checked on the whole text */
		if (s->p >= s->end)
			return 0;
		c = *s->p++;
		if (c && strchr("\"\\/bfnrt", (int)c))
			continue;
		if (c != 'u' || s->end - s->p < 4 || !hex4(s->p, &u))
			return 0;
		s->p += 4;
		if (u == 0 && is_key)
			s->unsure = HD_JSON_UNSURE;
		if (u >= 0xDC00 && u <= 0xDFFF)
			return 0; /* a low surrogate alone */
		if (u >= 0xD800 && u <= 0xDBFF) {
			/* a high surrogate needs its low half right after */
			if (s->end - s->p < 6 || s->p[0] != '\\' ||
			    s->p[1] != 'u' || !hex4(s->p + 2, &lo) ||
			    lo < 0xDC00 || lo > 0xDFFF)
				return 0;
			s->p += 6;
		}
	}
	return 0;
}

static size_t digits(struct scan *s)
{
	const unsigned char *p0 = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return (size_t)(s->p - p0);
}

static int number(struct scan *s)
{
	size_t n;
	int real = 0;

	if (*s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return 0;
	if (*s->p == '0') {
		s->p++;
		n = 1;
		if (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			return 0; /* a leading zero */
	} else if ((n = digits(s)) == 0) {
		return 0;
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (digits(s) == 0)
			return 0;
		real = 1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (digits(s) == 0)
			return 0;
		s->unsure = HD_JSON_UNSURE; /* may overflow a double */
	} else if (n > (real ? MAX_REAL_DIGITS : MAX_INT_DIGITS)) {
		s->unsure = HD_JSON_UNSURE;
	}
	return 1;
}

static int literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return 0;
	s->p += n;
	return 1;
}

static int value(struct scan *s, int depth);

/* After '[' or '{'; leaves p after the closing bracket. */
static int container(struct scan *s, int depth, int object)
{
	const unsigned char close = object ? '}' : ']';

	if (depth > MAX_DEPTH) {
		s->deep = 1;
		return 0;
	}
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 1;
	}
	for (;;) {
		if (object) {
			if (s->p >= s->end || *s->p++ != '"' || !string(s, 1))
				return 0;
			skip_ws(s);
			if (s->p >= s->end || *s->p++ != ':')
				return 0;
		}
		if (!value(s, depth))
			return 0;
		skip_ws(s);
		if (s->p >= s->end)
			return 0;
		if (*s->p == close) {
			s->p++;
			return 1;
		}
		if (*s->p++ != ',')
			return 0;
		skip_ws(s);
	}
}

/* Skips whitespace, then one value. */
static int value(struct scan *s, int depth)
{
	skip_ws(s);
	if (s->p >= s->end)
		return 0;
	switch (*s->p) {
	case '{':
	case '[':
		return container(s, depth + 1, *s->p++ == '{');
	case '"':
		s->p++;
		return string(s, 0);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	default:
		return number(s);
	}
}

enum hd_json_verdict hd__json_check(const char *text, size_t n)
{
	struct scan s = {(const unsigned char *)text,
			 (const unsigned char *)text + n, HD_JSON_VALID, 0};

	/* jansson reads up to a raw NUL in some places and not others, and
	 * checks UTF-8 by its own table: those answers are its own */
	if (memchr(text, '\0', n) || !hd_utf8_valid(text, n, NULL))
		return HD_JSON_UNSURE;
	/* a syntax error is one whatever came before it: only the depth
	 * limit stops the scan on something that may be valid */
	if (!value(&s, 0))
		return s.deep ? HD_JSON_UNSURE : HD_JSON_INVALID;
	skip_ws(&s);
	return s.p == s.end ? s.unsure : HD_JSON_INVALID;
}

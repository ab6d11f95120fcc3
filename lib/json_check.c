/*
 * json_check.c — a JSON text checked in one pass, nothing allocated; and
 * a text found valid built into jansson's tree in a second.
 *
 * A recursive descent over the grammar of RFC 8259, with an explicit
 * depth so that no input can exhaust the stack.  See json_check.h for why
 * it exists and where it defers to jansson.
 */
#include "json_check.h"

#include "escape.h"

#include <errno.h>
#include <stdlib.h>
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
	const unsigned char *base;   /* hd__json_check_marks: the text, */
	const size_t *at;	     /* the offsets to find in strings */
	size_t nat, next;	     /* and how many of them were found */
};

/* Marks at p, which starts a character inside a string: found when it is
 * a value's, not a key's (a tag there may render a NUL, which jansson
 * refuses in a key). */
static void find_marks(struct scan *s, int is_key)
{
	size_t at = (size_t)(s->p - s->base);

	if (is_key || (*s->p & 0xC0) == 0x80)
		return; /* a UTF-8 continuation byte: inside a character */
	while (s->next < s->nat && s->at[s->next] == at)
		s->next++;
}

/* JSON's white space (RFC 8259 section 2) from p on: where it ends. */
static const char *after_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static void skip_ws(struct scan *s)
{
	s->p = (const unsigned char *)after_ws((const char *)s->p,
					       (const char *)s->end);
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
		unsigned c, u, lo;

		if (s->next < s->nat && s->base + s->at[s->next] == s->p)
			find_marks(s, is_key);
		c = *s->p++;

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

static enum hd_json_verdict check(struct scan *s, const char *text, size_t n)
{
	/* jansson reads up to a raw NUL in some places and not others, and
	 * checks UTF-8 by its own table: those answers are its own */
	if (memchr(text, '\0', n) || !hd_utf8_valid(text, n, NULL))
		return HD_JSON_UNSURE;
	/* a syntax error is one whatever came before it: only the depth
	 * limit stops the scan on something that may be valid */
	if (!value(s, 0))
		return s->deep ? HD_JSON_UNSURE : HD_JSON_INVALID;
	skip_ws(s);
	return s->p == s->end ? s->unsure : HD_JSON_INVALID;
}

enum hd_json_verdict hd__json_check(const char *text, size_t n)
{
	struct scan s = {(const unsigned char *)text,
			 (const unsigned char *)text + n,
			 HD_JSON_VALID,
			 0,
			 NULL,
			 NULL,
			 0,
			 0};

	return check(&s, text, n);
}

enum hd_json_verdict hd__json_check_marks(const char *text, size_t n,
					  const size_t *at, size_t nat)
{
	struct scan s = {(const unsigned char *)text,
			 (const unsigned char *)text + n,
			 HD_JSON_VALID,
			 0,
			 (const unsigned char *)text,
			 at,
			 nat,
			 0};

	for (size_t i = 1; i < nat; i++)
		if (at[i] < at[i - 1])
			return HD_JSON_UNSURE;
	if (check(&s, text, n) != HD_JSON_VALID || s.next < nat)
		return HD_JSON_UNSURE;
	return HD_JSON_VALID;
}

/* --- building: the text is known valid, so nothing here is an error but
 * running out of memory, a duplicate key the caller refuses, or a number
 * strtod reads otherwise than JSON (a locale's decimal comma) --- */

struct build {
	const char *p, *end; /* a number may end the text */
	int reject_duplicates;
};

static void put_utf8(char **o, unsigned u)
{
	unsigned char *q = (unsigned char *)*o;

	if (u < 0x80) {
		*q++ = (unsigned char)u;
	} else if (u < 0x800) {
		*q++ = (unsigned char)(0xC0 | u >> 6);
		*q++ = (unsigned char)(0x80 | (u & 0x3F));
	} else if (u < 0x10000) {
		*q++ = (unsigned char)(0xE0 | u >> 12);
		*q++ = (unsigned char)(0x80 | (u >> 6 & 0x3F));
		*q++ = (unsigned char)(0x80 | (u & 0x3F));
	} else {
		*q++ = (unsigned char)(0xF0 | u >> 18);
		*q++ = (unsigned char)(0x80 | (u >> 12 & 0x3F));
		*q++ = (unsigned char)(0x80 | (u >> 6 & 0x3F));
		*q++ = (unsigned char)(0x80 | (u & 0x3F));
	}
	*o = (char *)q;
}

/* After the opening quote: the string's bytes, decoded, and p after the
 * closing quote.  *text points into the input when there is no escape;
 * otherwise *owned is a new buffer the caller frees.  0: out of memory. */
static int build_string(struct build *b, const char **text, size_t *len,
			char **owned)
{
	const char *start = b->p, *q = b->p, *e;
	char *o;

	*owned = NULL;
	while (*q != '"' && *q != '\\')
		q++;
	if (*q == '"') {
		*text = start;
		*len = (size_t)(q - start);
		b->p = q + 1;
		return 1;
	}
	/* an escape never decodes longer than it is written: "\\uXXXX"
	 * is at most 3 bytes, a pair of them 4 */
	for (e = q; *e != '"';)
		e += *e == '\\' ? 2 : 1;
	if (!(*owned = malloc((size_t)(e - start) + 1)))
		return 0;
	memcpy(*owned, start, (size_t)(q - start));
	o = *owned + (q - start);
	while (q < e) {
		unsigned u = 0, lo = 0; /* hex4 cannot fail here: checked */

		if (*q != '\\') {
			*o++ = *q++;
			continue;
		}
		q++;
		switch (*q++) {
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			hex4((const unsigned char *)q, &u);
			q += 4;
			if (u >= 0xD800 && u <= 0xDBFF) {
				hex4((const unsigned char *)q + 2, &lo);
				q += 6;
				u = 0x10000 + ((u - 0xD800) << 10) +
				    (lo - 0xDC00);
			}
			put_utf8(&o, u);
			break;
		default: /* '"', '\\' and '/' stand for themselves */
			*o++ = q[-1];
			break;
		}
	}
	*text = *owned;
	*len = (size_t)(o - *owned);
	b->p = e + 1;
	return 1;
}

static void build_ws(struct build *b)
{
	b->p = after_ws(b->p, b->end);
}

static json_t *build_number(struct build *b)
{
	const char *start = b->p;
	int real = 0;
	char buf[400], *end;
	size_t n;

	if (*b->p == '-')
		b->p++;
	while (b->p < b->end &&
	       ((*b->p >= '0' && *b->p <= '9') || *b->p == '.')) {
		real |= *b->p == '.';
		b->p++;
	}
	/* the check left anything with an exponent, an integer past 18
	 * digits or a real past 300 before its point to jansson */
	n = (size_t)(b->p - start);
	if (n >= sizeof(buf))
		return NULL;
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	if (!real) {
		long long v = strtoll(buf, &end, 10);
		return (size_t)(end - buf) == n && !errno ? json_integer(v)
							  : NULL;
	} else {
		double d = strtod(buf, &end);
		return (size_t)(end - buf) == n ? json_real(d) : NULL;
	}
}

static json_t *build_value(struct build *b);

static json_t *build_array(struct build *b)
{
	json_t *a = json_array(), *v;

	build_ws(b);
	if (*b->p == ']') {
		b->p++;
		return a;
	}
	while (a) {
		if (!(v = build_value(b)) || json_array_append_new(a, v) != 0) {
			json_decref(a);
			return NULL;
		}
		build_ws(b);
		if (*b->p++ == ']')
			break;
		build_ws(b);
	}
	return a;
}

static json_t *build_object(struct build *b)
{
	json_t *o = json_object(), *v;

	build_ws(b);
	if (*b->p == '}') {
		b->p++;
		return o;
	}
	while (o) {
		const char *key;
		size_t klen;
		char *owned;
		int bad;

		b->p++; /* the key's quote */
		if (!build_string(b, &key, &klen, &owned)) {
			json_decref(o);
			return NULL;
		}
		build_ws(b);
		b->p++; /* ':' */
		v = build_value(b);
		if (v && b->reject_duplicates &&
		    json_object_getn(o, key, klen) != NULL) {
			json_decref(v);
			v = NULL;
		}
		/* setn_new takes v, even when it fails */
		bad = !v || json_object_setn_new_nocheck(o, key, klen, v) != 0;
		free(owned);
		if (bad) {
			json_decref(o);
			return NULL;
		}
		build_ws(b);
		if (*b->p++ == '}')
			break;
		build_ws(b);
	}
	return o;
}

static json_t *build_value(struct build *b)
{
	const char *text;
	size_t len;
	char *owned;
	json_t *v;

	build_ws(b);
	switch (*b->p) {
	case '{':
		b->p++;
		return build_object(b);
	case '[':
		b->p++;
		return build_array(b);
	case '"':
		b->p++;
		if (!build_string(b, &text, &len, &owned))
			return NULL;
		v = json_stringn_nocheck(text, len);
		free(owned);
		return v;
	case 't':
		b->p += 4;
		return json_true();
	case 'f':
		b->p += 5;
		return json_false();
	case 'n':
		b->p += 4;
		return json_null();
	default:
		return build_number(b);
	}
}

enum hd_json_verdict hd__json_load(const char *text, size_t n, int flags,
				   json_t **out)
{
	struct build b = {text, text + n,
			  (flags & JSON_REJECT_DUPLICATES) != 0};
	enum hd_json_verdict v;

	*out = NULL;
	/* the check's rules are jansson's with JSON_ALLOW_NUL; other flags
	 * are jansson's to apply */
	if (!(flags & JSON_ALLOW_NUL) ||
	    (flags &
	     ~(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)))
		return HD_JSON_UNSURE;
	v = hd__json_check(text, n);
	if (v != HD_JSON_VALID)
		return v;
	/* JSON_DECODE_ANY: a text that is not an array or object is
	 * jansson's to refuse */
	if (!(flags & JSON_DECODE_ANY)) {
		build_ws(&b);
		if (*b.p != '{' && *b.p != '[')
			return HD_JSON_UNSURE;
	}
	/* the check found a quote, bracket or delimiter wherever the
	 * builder looks for one, so it never reads past the text's end */
	if (!(*out = build_value(&b)))
		return HD_JSON_UNSURE;
	return HD_JSON_VALID;
}

/* encode.c — base64, quoted-printable, header fields, MIME parameters;
 * see encode.h. */
#include "encode.h"

#include "address.h"
#include "escape.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/* RFC 4648 section 5: the URL and file name safe alphabet. */
static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char hex[] = "0123456789ABCDEF";

/* Longest QP line without its CRLF (RFC 2045 section 6.7 rule 5). */
#define QP_LINE_MAX 76
#define PARAM_NAME_MAX 64
/* Room for a parameter value when the parameter is folded onto a line
 * of its own: " name*12*=UTF-8''value;" within 78 characters. */
#define PARAM_ROOM(fixed)                                                      \
	((fixed) + 12 < HD_LINE_SOFT_MAX ? HD_LINE_SOFT_MAX - (fixed) : 12)

/* Drops whatever a failed call appended. */
static hd_status restore(hd_buf *out, size_t len0, hd_status st)
{
	out->len = len0;
	if (out->data)
		out->data[len0] = '\0';
	return st;
}

/* Writes the 4 base64 characters of the 1..3 bytes at p into q, from
 * alphabet a. */
static void b64_quad(char *q, const unsigned char *p, size_t k, const char *a)
{
	uint32_t v = (uint32_t)p[0] << 16;

	if (k > 1)
		v |= (uint32_t)p[1] << 8;
	if (k > 2)
		v |= p[2];
	q[0] = a[(v >> 18) & 63];
	q[1] = a[(v >> 12) & 63];
	q[2] = k > 1 ? a[(v >> 6) & 63] : '=';
	q[3] = k > 2 ? a[v & 63] : '=';
}

hd_status hd_base64_encode(hd_buf *out, const void *p, size_t n,
			   size_t line_len)
{
	const unsigned char *s = p;
	size_t enc, total, i, col = 0, k, j;
	char quad[4], *w;

	if (line_len > HD_LINE_HARD_MAX || (!p && n))
		return HD_EINVAL;
	if (n > SIZE_MAX / 8)
		return HD_ENOMEM; /* so that the sums below cannot wrap */
	enc = (n + 2) / 3 * 4;
	total = enc;
	if (line_len)
		total += (enc + line_len - 1) / line_len * 2;
	if (hd_buf_reserve(out, total) != HD_OK)
		return HD_ENOMEM;
	w = out->data + out->len;
	for (i = 0; i < n; i += 3) {
		k = n - i < 3 ? n - i : 3;
		b64_quad(quad, s + i, k, b64_alphabet);
		for (j = 0; j < 4; j++) {
			*w++ = quad[j];
			if (line_len && ++col == line_len) {
				*w++ = '\r';
				*w++ = '\n';
				col = 0;
			}
		}
	}
	if (line_len && col) {
		*w++ = '\r';
		*w++ = '\n';
	}
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
	return HD_OK;
}

hd_status hd_base64url_encode(hd_buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t len0 = out->len;
	char quad[4];

	if (!p && n)
		return HD_EINVAL;
	if (n == 0)
		return HD_OK;
	if (n > SIZE_MAX / 8 || hd_buf_reserve(out, (n + 2) / 3 * 4) != HD_OK)
		return HD_ENOMEM;
	for (size_t i = 0; i < n; i += 3) {
		size_t k = n - i < 3 ? n - i : 3;
		b64_quad(quad, s + i, k, b64url_alphabet);
		/* no padding: k bytes make k + 1 characters */
		if (hd_buf_append(out, quad, k + 1) != HD_OK)
			return restore(out, len0, HD_ENOMEM);
	}
	return HD_OK;
}

static int b64url_value(char c)
{
	const char *at = c ? strchr(b64url_alphabet, c) : NULL;
	return at ? (int)(at - b64url_alphabet) : -1;
}

hd_status hd_base64url_decode(hd_buf *out, const char *s, size_t n)
{
	size_t len0 = out->len;

	if ((!s && n) || n % 4 == 1)
		return HD_EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		size_t k = n - i < 4 ? n - i : 4;
		uint32_t v = 0;
		unsigned char b[3];

		for (size_t j = 0; j < 4; j++) {
			int d = j < k ? b64url_value(s[i + j]) : 0;
			if (d < 0)
				return restore(out, len0, HD_EINVAL);
			v = v << 6 | (uint32_t)d;
		}
		b[0] = (unsigned char)(v >> 16);
		b[1] = (unsigned char)(v >> 8);
		b[2] = (unsigned char)v;
		/* the bits a short group leaves over must be zero, so that
		 * each byte string has exactly one encoding */
		if ((k == 2 && (b[1] || b[2])) || (k == 3 && b[2]))
			return restore(out, len0, HD_EINVAL);
		if (hd_buf_append(out, b, k - 1) != HD_OK)
			return restore(out, len0, HD_ENOMEM);
	}
	return HD_OK;
}

/* 1 when p[i] is the last byte of its line (end of input, or a line end
 * follows). */
static int qp_at_eol(const char *p, size_t n, size_t i)
{
	if (i + 1 == n || p[i + 1] == '\n')
		return 1;
	return p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n';
}

hd_status hd_qp_encode(hd_buf *out, const char *p, size_t n)
{
	size_t i = 0, col = 0, t, limit, bound;
	unsigned char c;
	int eol;
	char *w;

	if (!p && n)
		return HD_EINVAL;
	if (n > SIZE_MAX / 8)
		return HD_ENOMEM;
	/* Each byte gives at most 3 characters, each soft break 3 more
	 * after at least 73, each LF one more (its CR). */
	bound = 3 * n + 3 * (3 * n / 73 + 1) + n;
	if (hd_buf_reserve(out, bound) != HD_OK)
		return HD_ENOMEM;
	w = out->data + out->len;
	while (i < n) {
		c = (unsigned char)p[i];
		if (c == '\n' || (c == '\r' && i + 1 < n && p[i + 1] == '\n')) {
			/* a line end of the text: a hard break (rule 4) */
			*w++ = '\r';
			*w++ = '\n';
			col = 0;
			i += c == '\r' ? 2 : 1;
			continue;
		}
		eol = qp_at_eol(p, n, i);
		/* Rule 2: 33..126 but "=" go as they are; rule 3: a blank
		 * goes as it is unless it ends the line, where a transport
		 * may strip it. */
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !eol))
			t = 1;
		else
			t = 3;
		/* Rule 5: at most 76 characters a line, the "=" of a soft
		 * break included, so only a line's last token may take the
		 * 76th column. */
		limit = eol ? QP_LINE_MAX : QP_LINE_MAX - 1;
		if (col + t > limit) {
			*w++ = '=';
			*w++ = '\r';
			*w++ = '\n';
			col = 0;
		}
		if (t == 1) {
			*w++ = (char)c;
		} else {
			*w++ = '=';
			*w++ = hex[c >> 4];
			*w++ = hex[c & 15];
		}
		col += t;
		i++;
	}
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
	return HD_OK;
}

/* Is one of the eight bytes of w a NUL, a CR, an LF or above 0x7F?  A
 * byte b is 0 when (b - 1) & ~b has its top bit set (and nothing else in
 * the word can set it without a byte above 0x7F, which counts anyway);
 * CR and LF are found as 0 after an XOR. */
static int word_is_special(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101u;
	const uint64_t cr = w ^ (ones * '\r'), lf = w ^ (ones * '\n');

	return ((w | ((w - ones) & ~w) | ((cr - ones) & ~cr) |
		 ((lf - ones) & ~lf)) &
		(ones * 0x80)) != 0;
}

int hd_needs_encoding(const char *p, size_t n)
{
	size_t i, line = 0;
	unsigned char c;

	for (i = 0; i < n; i++) {
		uint64_t w;

		/* eight plain bytes at once: they only lengthen the line */
		if (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if (!word_is_special(w)) {
				line += 8;
				if (line > HD_LINE_HARD_MAX)
					return 1;
				i += 7;
				continue;
			}
		}
		c = (unsigned char)p[i];
		if (c >= 0x80 || c == '\0')
			return 1;
		if (c == '\n') {
			line = 0;
			continue;
		}
		if (c == '\r') {
			if (i + 1 < n && p[i + 1] == '\n')
				continue; /* counted with its LF */
			return 1;
		}
		if (++line > HD_LINE_HARD_MAX)
			return 1;
	}
	return 0;
}

/* ---- header fields ---------------------------------------------------- */

/* A header being written: where the current line stands. */
typedef struct hw {
	hd_buf *out;
	size_t col; /* characters on the current line */
	int first;  /* nothing written after "Name:" yet: no fold there,
		     * since readers would keep the fold's blank */
} hw;

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static hd_status hw_raw(hw *w, const char *lead, size_t ll, const char *text,
			size_t tl)
{
	if (w->col + ll + tl > HD_LINE_HARD_MAX)
		return HD_ELIMIT;
	if (hd_buf_append(w->out, lead, ll) != HD_OK ||
	    hd_buf_append(w->out, text, tl) != HD_OK)
		return HD_ENOMEM;
	w->col += ll + tl;
	w->first = 0;
	return HD_OK;
}

/* Starts a continuation line: the caller's next lead is its blank. */
static hd_status hw_fold(hw *w)
{
	if (hd_buf_append(w->out, "\r\n", 2) != HD_OK)
		return HD_ENOMEM;
	w->col = 0;
	return HD_OK;
}

/* Writes lead (blanks, never empty) and text, folding before them when
 * the line would pass 78 characters. */
static hd_status hw_put(hw *w, const char *lead, size_t ll, const char *text,
			size_t tl)
{
	if (!w->first && w->col + ll + tl > HD_LINE_SOFT_MAX &&
	    hw_fold(w) != HD_OK)
		return HD_ENOMEM;
	return hw_raw(w, lead, ll, text, tl);
}

/* RFC 2047 section 5(3): the characters a Q-encoded word may carry as
 * they are in any context, a phrase included.  Everything else is =XX,
 * and a space is "_". */
static int q_plain(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '!' || c == '*' || c == '+' ||
	       c == '-' || c == '/';
}

static size_t q_cost(unsigned char c)
{
	return q_plain(c) || c == ' ' ? 1 : 3;
}

/* Bytes of the UTF-8 character that starts with c (input is valid). */
static size_t char_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	return 4;
}

#define EW_OVERHEAD 12 /* "=?UTF-8?Q?" and "?=" */

/* Q or B for the whole run: whichever is shorter. */
static int use_q(const unsigned char *r, size_t m)
{
	size_t i, q = 0;

	for (i = 0; i < m; i++)
		q += q_cost(r[i]);
	return q <= (m + 2) / 3 * 4;
}

/* How many bytes of r[0..m), in whole characters, fit in one
 * encoded-word of at most cap characters; 0 if not even one. */
static size_t ew_fit(const unsigned char *r, size_t m, size_t cap, int q)
{
	size_t k = 0, cl, cost = 0, i;

	if (cap <= EW_OVERHEAD)
		return 0;
	cap -= EW_OVERHEAD;
	while (k < m) {
		cl = char_len(r[k]);
		if (cl > m - k)
			cl = m - k;
		if (q) {
			size_t c2 = cost;

			for (i = 0; i < cl; i++)
				c2 += q_cost(r[k + i]);
			if (c2 > cap)
				break;
			cost = c2;
		} else if ((k + cl + 2) / 3 * 4 > cap) {
			break;
		}
		k += cl;
	}
	return k;
}

/*
 * Bytes of r[0..m) for the next encoded-word of at most cap characters:
 * as many whole characters as fit, but when more must follow and a blank
 * is among them, the word ends just after the last such blank.  RFC 2047
 * decoders join adjacent encoded-words with nothing between (section
 * 6.2), so this costs them nothing; lax decoders that put a space
 * between encoded-words (Python's phrase parser does) then only double
 * a space rather than cut a word in two.
 */
static size_t ew_chunk(const unsigned char *r, size_t m, size_t cap, int q)
{
	size_t k = ew_fit(r, m, cap, q), i;

	if (k == 0 || k == m)
		return k;
	for (i = k; i > 0; i--)
		if (r[i - 1] == ' ' || r[i - 1] == '\t')
			return i;
	return k;
}

/* Writes the encoded-word for r[0..k) into word; returns its length. */
static size_t ew_make(char *word, const unsigned char *r, size_t k, int q)
{
	size_t n = 0, i, c;

	memcpy(word, q ? "=?UTF-8?Q?" : "=?UTF-8?B?", 10);
	n = 10;
	if (q) {
		for (i = 0; i < k; i++) {
			if (q_plain(r[i])) {
				word[n++] = (char)r[i];
			} else if (r[i] == ' ') {
				word[n++] = '_';
			} else {
				word[n++] = '=';
				word[n++] = hex[r[i] >> 4];
				word[n++] = hex[r[i] & 15];
			}
		}
	} else {
		for (i = 0; i < k; i += 3) {
			c = k - i < 3 ? k - i : 3;
			b64_quad(word + n, r + i, c, b64_alphabet);
			n += 4;
		}
	}
	word[n++] = '?';
	word[n++] = '=';
	return n;
}

/* Length of r[0..m) written as encoded-words of 75 on one line, for the
 * "does this mailbox fit on the line" estimate. */
static size_t ew_run_len(const unsigned char *r, size_t m)
{
	int q = use_q(r, m);
	size_t pos = 0, k, total = 0;
	char word[HD_ENCODED_WORD_MAX + 1];

	while (pos < m) {
		k = ew_chunk(r + pos, m - pos, HD_ENCODED_WORD_MAX, q);
		total += ew_make(word, r + pos, k, q) + (pos ? 1 : 0);
		pos += k;
	}
	return total;
}

/*
 * Writes r[0..m) as encoded-words, the first after lead (the run's plain
 * blanks), the others after one space or a fold.  Each word is sized to
 * the room left on its line, at most 75, and ends on a character
 * boundary, so no decoder sees a cut character.
 */
static hd_status put_encoded_run(hw *w, const char *lead, size_t ll,
				 const unsigned char *r, size_t m)
{
	int q = use_q(r, m);
	size_t pos = 0, room, cap, k, wl;
	char word[HD_ENCODED_WORD_MAX + 1];
	hd_status st;

	while (pos < m) {
		room = w->col + ll < HD_LINE_SOFT_MAX
			   ? HD_LINE_SOFT_MAX - w->col - ll
			   : 0;
		cap = room < HD_ENCODED_WORD_MAX ? room : HD_ENCODED_WORD_MAX;
		k = ew_chunk(r + pos, m - pos, cap, q);
		/* Fold first when nothing fits, or when only a scrap of a
		 * word would (see ew_chunk for why cuts inside words are
		 * avoided). */
		if (!w->first &&
		    (!k || (k < m - pos && !is_blank((char)r[pos + k - 1]) &&
			    cap < HD_ENCODED_WORD_MAX / 2))) {
			if (hw_fold(w) != HD_OK)
				return HD_ENOMEM;
			room =
			    ll < HD_LINE_SOFT_MAX ? HD_LINE_SOFT_MAX - ll : 0;
			cap = room < HD_ENCODED_WORD_MAX ? room
							 : HD_ENCODED_WORD_MAX;
			k = ew_chunk(r + pos, m - pos, cap, q);
		}
		if (!k) /* a long name or lead: past 78, within 998 */
			k = ew_chunk(r + pos, m - pos, HD_ENCODED_WORD_MAX, q);
		wl = ew_make(word, r + pos, k, q);
		st = hw_raw(w, lead, ll, word, wl);
		if (st != HD_OK)
			return st;
		pos += k;
		lead = " ";
		ll = 1;
	}
	return HD_OK;
}

/* 1 when the word s[0..n) must be encoded: non-ASCII, or "=?" that a
 * reader could take for the start of an encoded-word. */
static int needs_ew(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return 1;
		if (s[i] == '=' && i + 1 < n && s[i + 1] == '?')
			return 1;
	}
	return 0;
}

/* Unstructured value v[0..n), blanks at both ends already dropped. */
static hd_status put_unstructured(hw *w, const char *v, size_t n)
{
	size_t i = 0, lead_at, word_at, word_end, run_end, j;
	const char *lead;
	size_t ll;
	hd_status st;

	while (i < n) {
		lead_at = i;
		while (i < n && is_blank(v[i]))
			i++;
		word_at = i;
		while (i < n && !is_blank(v[i]))
			i++;
		word_end = i;
		if (w->first) {
			lead = " ";
			ll = 1;
		} else {
			lead = v + lead_at;
			ll = word_at - lead_at;
		}
		if (!needs_ew(v + word_at, word_end - word_at)) {
			st = hw_put(w, lead, ll, v + word_at,
				    word_end - word_at);
			if (st != HD_OK)
				return st;
			continue;
		}
		/* Extend the run over every following word that needs
		 * encoding too: the blanks between them go inside. */
		run_end = word_end;
		for (;;) {
			j = run_end;
			while (j < n && is_blank(v[j]))
				j++;
			if (j == n)
				break;
			i = j;
			while (i < n && !is_blank(v[i]))
				i++;
			if (!needs_ew(v + j, i - j))
				break;
			run_end = i;
		}
		i = run_end;
		st = put_encoded_run(w, lead, ll,
				     (const unsigned char *)v + word_at,
				     run_end - word_at);
		if (st != HD_OK)
			return st;
	}
	return HD_OK;
}

/* How a display name is written in a phrase. */
enum { DN_ATOMS, DN_QUOTED, DN_ENCODED };

static int display_kind(const char *d, size_t n)
{
	size_t i;
	int atoms = n > 0 && d[0] != ' ' && d[n - 1] != ' ';

	if (needs_ew(d, n))
		return DN_ENCODED;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c < 0x20)
			return DN_ENCODED; /* TAB: no quoting keeps it sure */
		if (c == ' ') {
			if (i + 1 < n && d[i + 1] == ' ')
				atoms = 0;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') ||
		      strchr("!#$%&'*+-/=?^_`{|}~", c)))
			atoms = 0;
	}
	return atoms ? DN_ATOMS : DN_QUOTED;
}

/* RFC 5322 quoted-string of d[0..n) into q: '"' and '\' escaped. */
static hd_status quote(hd_buf *q, const char *d, size_t n)
{
	size_t i;

	if (hd_buf_putc(q, '"') != HD_OK)
		return HD_ENOMEM;
	for (i = 0; i < n; i++) {
		if ((d[i] == '"' || d[i] == '\\') &&
		    hd_buf_putc(q, '\\') != HD_OK)
			return HD_ENOMEM;
		if (hd_buf_putc(q, d[i]) != HD_OK)
			return HD_ENOMEM;
	}
	return hd_buf_putc(q, '"');
}

/* One mailbox: display name (if any) then the address, with a comma
 * when more follow.  Folds before the mailbox when it does not fit on
 * the rest of the line but would on a fresh one, so that folds fall
 * after commas where they can. */
static hd_status put_mailbox(hw *w, const hd_mailbox *mb, int comma,
			     hd_buf *quoted)
{
	const char *d = mb->display;
	size_t dn = d ? strlen(d) : 0, al, est, i, j;
	int kind = d ? display_kind(d, dn) : DN_ATOMS;
	char addr[HD_ADDRESS_MAX + 4];
	hd_status st;

	al = strlen(mb->addr);
	if (al + 3 >= sizeof(addr))
		return HD_EADDRESS; /* hd_address_check bounds it: cannot be */
	/* "<addr>," by hand: snprintf showed in a profile of the build */
	i = 0;
	if (d)
		addr[i++] = '<';
	memcpy(addr + i, mb->addr, al);
	i += al;
	if (d)
		addr[i++] = '>';
	if (comma)
		addr[i++] = ',';
	addr[i] = '\0';
	al = i;
	hd_buf_reset(quoted);
	est = 1 + al;
	if (d && kind == DN_QUOTED) {
		if (quote(quoted, d, dn) != HD_OK)
			return HD_ENOMEM;
		est += 1 + quoted->len;
	} else if (d && kind == DN_ATOMS) {
		est += 1 + dn;
	} else if (d) {
		est += 1 + ew_run_len((const unsigned char *)d, dn);
	}
	if (!w->first && w->col + est > HD_LINE_SOFT_MAX &&
	    est <= HD_LINE_SOFT_MAX && hw_fold(w) != HD_OK)
		return HD_ENOMEM;

	if (d && kind == DN_QUOTED) {
		st = hw_put(w, " ", 1, quoted->data, quoted->len);
	} else if (d && kind == DN_ATOMS) {
		st = HD_OK;
		for (i = 0; i < dn && st == HD_OK; i = j + 1) {
			for (j = i; j < dn && d[j] != ' '; j++)
				;
			st = hw_put(w, " ", 1, d + i, j - i);
		}
	} else if (d) {
		st = put_encoded_run(w, " ", 1, (const unsigned char *)d, dn);
	} else {
		st = HD_OK;
	}
	if (st != HD_OK)
		return st;
	return hw_put(w, " ", 1, addr, al);
}

static hd_status put_mailboxes(hw *w, const hd_mailbox *list, size_t count)
{
	hd_buf quoted = HD_BUF_INIT;
	hd_status st = HD_OK;

	for (size_t i = 0; i < count && st == HD_OK; i++)
		st = put_mailbox(w, &list[i], i + 1 < count, &quoted);
	hd_buf_free(&quoted);
	return st;
}

static hd_status put_address_list(hw *w, const char *v, size_t n)
{
	hd_mailbox *list = NULL;
	size_t count = 0;
	hd_status st;

	st = hd_mailbox_list_parse(v, n, &list, &count, NULL);
	if (st != HD_OK)
		return st;
	st = put_mailboxes(w, list, count);
	hd_mailbox_list_free(list, count);
	return st;
}

static int name_ok(const char *name)
{
	size_t i, n;

	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n > HD_HEADER_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (name[i] < 33 || name[i] > 126 || name[i] == ':')
			return 0;
	return 1;
}

/* hd_header_append, with the mailboxes given when list is not NULL. */
static hd_status header_append(hd_buf *out, const char *name, const char *value,
			       size_t n, int address_list,
			       const hd_mailbox *list, size_t count)
{
	size_t len0 = out->len, i;
	hw w;
	hd_status st;

	if (!name_ok(name) || (!value && n))
		return HD_EHEADER;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7F)
			return HD_EHEADER;
	}
	if (!hd_utf8_valid(value, n, NULL))
		return HD_EUTF8;
	while (n && is_blank(value[0])) {
		value++;
		n--;
	}
	while (n && is_blank(value[n - 1]))
		n--;
	if (hd_buf_puts(out, name) != HD_OK || hd_buf_putc(out, ':') != HD_OK)
		return restore(out, len0, HD_ENOMEM);
	w.out = out;
	w.col = strlen(name) + 1;
	w.first = 1;
	if (address_list && list)
		st = put_mailboxes(&w, list, count);
	else if (address_list)
		st = put_address_list(&w, value, n);
	else
		st = put_unstructured(&w, value, n);
	if (st == HD_OK && hd_buf_append(out, "\r\n", 2) != HD_OK)
		st = HD_ENOMEM;
	if (st != HD_OK)
		return restore(out, len0, st);
	return HD_OK;
}

hd_status hd_header_append(hd_buf *out, const char *name, const char *value,
			   size_t n, int address_list)
{
	return header_append(out, name, value, n, address_list, NULL, 0);
}

hd_status hd_header_append_mailboxes(hd_buf *out, const char *name,
				     const char *value, size_t n,
				     const hd_mailbox *list, size_t count)
{
	return header_append(out, name, value, n, 1, list, count);
}

/* ---- MIME parameters -------------------------------------------------- */

/* RFC 2231 section 7 attribute-char: token characters (RFC 2045 section
 * 5.1) less "*", "'" and "%". */
static int attr_char(unsigned char c)
{
	return c > 32 && c < 127 && !strchr("*'%()<>@,;:\\\"/[]?=", c);
}

/* Value that can go in a quoted-string with no escape and no risk, and
 * fits on a line as ' name="value";'. */
static int quotable(const char *v, size_t n, size_t nl)
{
	size_t i;

	if (n > PARAM_ROOM(nl + 5))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		/* '"' and '\' would need \-escapes that some readers get
		 * wrong; "=?" could be taken for an encoded-word. */
		if (c < 0x20 || c > 0x7E || c == '"' || c == '\\')
			return 0;
		if (c == '=' && i + 1 < n && v[i + 1] == '?')
			return 0;
	}
	return 1;
}

static size_t digits(unsigned v)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Percent-encoded length of the UTF-8 character at v. */
static size_t pct_len(const unsigned char *v, size_t cl)
{
	size_t i, t = 0;

	for (i = 0; i < cl; i++)
		t += attr_char(v[i]) ? 1 : 3;
	return t;
}

static hd_status pct_put(hd_buf *out, const unsigned char *v, size_t k)
{
	size_t i;
	char e[3] = {'%', 0, 0};

	for (i = 0; i < k; i++) {
		if (attr_char(v[i])) {
			if (hd_buf_putc(out, (char)v[i]) != HD_OK)
				return HD_ENOMEM;
			continue;
		}
		e[1] = hex[v[i] >> 4];
		e[2] = hex[v[i] & 15];
		if (hd_buf_append(out, e, 3) != HD_OK)
			return HD_ENOMEM;
	}
	return HD_OK;
}

hd_status hd_mime_param(hd_buf *out, const char *name, const char *value)
{
	const unsigned char *v = (const unsigned char *)value;
	size_t len0 = out->len, n, i, nl, total = 0, seg, start, cl, t;
	unsigned part = 0;
	hd_status st = HD_OK;

	if (!name || !value)
		return HD_EINVAL;
	nl = strlen(name);
	if (nl == 0 || nl > PARAM_NAME_MAX)
		return HD_EINVAL;
	for (i = 0; i < nl; i++)
		if (!attr_char((unsigned char)name[i]))
			return HD_EINVAL;
	n = strlen(value);
	if (!hd_utf8_valid(value, n, NULL))
		return HD_EUTF8;
	if (quotable(value, n, nl)) {
		if (hd_buf_printf(out, "; %s=\"%s\"", name, value) != HD_OK)
			return restore(out, len0, HD_ENOMEM);
		return HD_OK;
	}
	for (i = 0; i < n; i += cl) {
		cl = char_len(v[i]);
		total += pct_len(v + i, cl);
	}
	if (total <= PARAM_ROOM(nl + 11)) {
		if (hd_buf_printf(out, "; %s*=UTF-8''", name) != HD_OK ||
		    pct_put(out, v, n) != HD_OK)
			return restore(out, len0, HD_ENOMEM);
		return HD_OK;
	}
	/* RFC 2231 section 3 continuations; each segment a whole number of
	 * characters, so a reader that decodes segment by segment still
	 * sees no cut character. */
	for (start = 0; start < n && st == HD_OK; part++) {
		seg = 0;
		i = start;
		while (i < n) {
			cl = char_len(v[i]);
			t = pct_len(v + i, cl);
			if (seg && seg + t > PARAM_ROOM(nl + 5 + digits(part) +
							(part ? 0 : 7)))
				break;
			seg += t;
			i += cl;
		}
		if (hd_buf_printf(out, "; %s*%u*=%s", name, part,
				  part ? "" : "UTF-8''") != HD_OK)
			st = HD_ENOMEM;
		else
			st = pct_put(out, v + start, i - start);
		start = i;
	}
	if (st != HD_OK)
		return restore(out, len0, st);
	return HD_OK;
}

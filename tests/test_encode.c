/* test_encode.c — base64, quoted-printable, header fields and MIME
 * parameters (lib/encode.c).  Outputs are decoded again here, by
 * decoders written for the test, and, when /usr/bin/python3 is there,
 * by Python's email package. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "encode.h"
#include "escape.h"

/* ---- helpers ----------------------------------------------------------- */

static uint32_t rng_state = 0x9E3779B9u;

/* xorshift32: deterministic, so a failure can be replayed. */
static uint32_t rnd(void)
{
	uint32_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	rng_state = x;
	return x;
}

static int b64_value(char c)
{
	const char *a =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(a, c) : NULL;

	return p ? (int)(p - a) : -1;
}

/* Strict base64 decoder (no line breaks), appends to out; 0 if bad. */
static int b64_decode(const char *s, size_t n, hd_buf *out)
{
	size_t i;
	int v[4], j, pad;

	if (n % 4)
		return 0;
	for (i = 0; i < n; i += 4) {
		pad = 0;
		for (j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad)
				return 0;
			v[j] = b64_value(s[i + j]);
			if (v[j] < 0)
				return 0;
		}
		hd_buf_putc(out, (char)(v[0] << 2 | v[1] >> 4));
		if (pad < 2)
			hd_buf_putc(out, (char)((v[1] & 15) << 4 | v[2] >> 2));
		if (pad < 1)
			hd_buf_putc(out, (char)((v[2] & 3) << 6 | v[3]));
	}
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Checks that every line of s ends in CRLF (but a last one may not when
 * last_crlf is 0) and is at most max characters. */
static void check_lines(const char *s, size_t n, size_t max, int last_crlf)
{
	size_t i = 0, start = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\n') {
			assert_true(i > 0 && s[i - 1] == '\r');
			if (i - 1 - start > max)
				fail_msg("line of %zu > %zu: %.*s",
					 i - 1 - start, max,
					 (int)(i - 1 - start), s + start);
			start = i + 1;
		} else if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
		}
	}
	if (last_crlf)
		assert_int_equal(start, n);
	else
		assert_true(n - start <= max);
}

/* ---- base64 ------------------------------------------------------------ */

static void b64_expect(const char *in, size_t line_len, const char *want)
{
	hd_buf b = HD_BUF_INIT;

	assert_int_equal(hd_base64_encode(&b, in, strlen(in), line_len), HD_OK);
	assert_string_equal(b.data ? b.data : "", want);
	hd_buf_free(&b);
}

static void base64_vectors(void **state)
{
	char in[200];
	hd_buf b = HD_BUF_INIT;

	(void)state;
	/* RFC 4648 section 10 */
	b64_expect("", 0, "");
	b64_expect("f", 0, "Zg==");
	b64_expect("fo", 0, "Zm8=");
	b64_expect("foo", 0, "Zm9v");
	b64_expect("foob", 0, "Zm9vYg==");
	b64_expect("fooba", 0, "Zm9vYmE=");
	b64_expect("foobar", 0, "Zm9vYmFy");
	b64_expect("foobar", 76, "Zm9vYmFy\r\n");
	b64_expect("", 76, "");
	b64_expect("foobar", 4, "Zm9v\r\nYmFy\r\n");
	b64_expect("fooba", 4, "Zm9v\r\nYmE=\r\n");
	/* 57 bytes make one full 76-character line */
	memset(in, 'x', 58);
	in[58] = '\0';
	assert_int_equal(hd_base64_encode(&b, in, 57, 76), HD_OK);
	assert_int_equal(b.len, 78);
	assert_memory_equal(b.data + 76, "\r\n", 2);
	hd_buf_reset(&b);
	assert_int_equal(hd_base64_encode(&b, in, 58, 76), HD_OK);
	assert_int_equal(b.len, 78 + 4 + 2);
	assert_string_equal(b.data + 76, "\r\neA==\r\n");
	/* appends; a bad line_len leaves the buffer alone */
	hd_buf_reset(&b);
	hd_buf_puts(&b, "X");
	assert_int_equal(hd_base64_encode(&b, "\xFF\xFE", 2, 0), HD_OK);
	assert_string_equal(b.data, "X//4=");
	assert_int_equal(hd_base64_encode(&b, "a", 1, 999), HD_EINVAL);
	assert_int_equal(hd_base64_encode(&b, NULL, 1, 0), HD_EINVAL);
	assert_string_equal(b.data, "X//4=");
	hd_buf_free(&b);
}

static void base64_round_trip(void **state)
{
	unsigned char data[3000];
	hd_buf b = HD_BUF_INIT, d = HD_BUF_INIT, flat = HD_BUF_INIT;
	size_t n, i;

	(void)state;
	for (n = 0; n < sizeof(data); n += n < 200 ? 1 : 97) {
		for (i = 0; i < n; i++)
			data[i] = (unsigned char)rnd();
		hd_buf_reset(&b);
		hd_buf_reset(&d);
		hd_buf_reset(&flat);
		assert_int_equal(hd_base64_encode(&b, data, n, 76), HD_OK);
		check_lines(b.data ? b.data : "", b.len, 76, 1);
		for (i = 0; i < b.len; i++)
			if (b.data[i] != '\r' && b.data[i] != '\n')
				hd_buf_putc(&flat, b.data[i]);
		assert_true(
		    b64_decode(flat.data ? flat.data : "", flat.len, &d));
		assert_int_equal(d.len, n);
		if (n)
			assert_memory_equal(d.data, data, n);
	}
	hd_buf_free(&b);
	hd_buf_free(&d);
	hd_buf_free(&flat);
}

/* RFC 4648 section 10 vectors in the URL alphabet, unpadded; strict
 * decoding. */
static void base64url(void **state)
{
	static const char *const vec[][2] = {
	    {"", ""},
	    {"f", "Zg"},
	    {"fo", "Zm8"},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"},
	    {"fooba", "Zm9vYmE"},
	    {"foobar", "Zm9vYmFy"},
	    {"\xfb\xff\xbf", "-_-_"},
	};
	static const char *const bad[] = {"Z",	  "Zg=", "Zg==", "Z+8",	 "Z/8",
					  "Zm 9", "Zh",	 "Zm9",	 "Zm8\n"};
	hd_buf b = HD_BUF_INIT;
	unsigned char data[300];

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		hd_buf_reset(&b);
		assert_int_equal(
		    hd_base64url_encode(&b, vec[i][0], strlen(vec[i][0])),
		    HD_OK);
		assert_string_equal(b.data ? b.data : "", vec[i][1]);
		hd_buf_reset(&b);
		assert_int_equal(
		    hd_base64url_decode(&b, vec[i][1], strlen(vec[i][1])),
		    HD_OK);
		assert_int_equal(b.len, strlen(vec[i][0]));
		if (b.len)
			assert_memory_equal(b.data, vec[i][0], b.len);
	}
	hd_buf_reset(&b);
	hd_buf_puts(&b, "KEEP");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    hd_base64url_decode(&b, bad[i], strlen(bad[i])), HD_EINVAL);
		assert_string_equal(b.data, "KEEP");
	}
	for (size_t n = 0; n < sizeof(data); n++) {
		hd_buf e = HD_BUF_INIT;
		for (size_t i = 0; i < n; i++)
			data[i] = (unsigned char)rnd();
		hd_buf_reset(&b);
		assert_int_equal(hd_base64url_encode(&e, data, n), HD_OK);
		assert_int_equal(e.len, (n * 4 + 2) / 3);
		assert_int_equal(
		    hd_base64url_decode(&b, e.data ? e.data : "", e.len),
		    HD_OK);
		assert_int_equal(b.len, n);
		if (n)
			assert_memory_equal(b.data, data, n);
		hd_buf_free(&e);
	}
	hd_buf_free(&b);
}

/* ---- quoted-printable -------------------------------------------------- */

static void qp_expect(const char *in, size_t n, const char *want)
{
	hd_buf b = HD_BUF_INIT;

	assert_int_equal(hd_qp_encode(&b, in, n), HD_OK);
	assert_string_equal(b.data ? b.data : "", want);
	hd_buf_free(&b);
}

#define QP(lit, want) qp_expect(lit, sizeof(lit) - 1, want)

static char *repeat(char c, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	char *s = malloc(n + t + 1);

	assert_non_null(s);
	memset(s, c, n);
	memcpy(s + n, tail, t + 1);
	return s;
}

static void qp_expect_rep(size_t n, const char *tail, size_t m, const char *mid,
			  size_t k, const char *end)
{
	char *in = repeat('a', n, tail);
	char *a = repeat('a', m, mid);
	char *z = repeat('a', k, end);
	size_t la = strlen(a), lz = strlen(z);
	char *want = malloc(la + lz + 1);

	assert_non_null(want);
	memcpy(want, a, la);
	memcpy(want + la, z, lz + 1);
	qp_expect(in, strlen(in), want);
	free(in);
	free(a);
	free(z);
	free(want);
}

static void qp_vectors(void **state)
{
	(void)state;
	QP("", "");
	QP("plain text", "plain text");
	QP("a=b", "a=3Db");
	QP("caf\xC3\xA9\n", "caf=C3=A9\r\n");
	QP("trailing  \n", "trailing =20\r\n");
	QP("trailing \r\nnext", "trailing=20\r\nnext");
	QP("tab\t", "tab=09");
	QP("a b\tc", "a b\tc");
	QP("a\r\nb\nc", "a\r\nb\r\nc");
	QP("a\rb", "a=0Db");
	QP("a\r", "a=0D");
	QP("\r\r\n", "=0D\r\n");
	QP("nul\0", "nul=00");
	QP("\x7F~!", "=7F~!");
	QP("\n\n", "\r\n\r\n");
	/* 76 characters fit a line when nothing follows on it */
	qp_expect_rep(76, "\n", 76, "\r\n", 0, "");
	qp_expect_rep(76, "", 76, "", 0, "");
	qp_expect_rep(77, "", 75, "=\r\n", 2, "");
	qp_expect_rep(75, " b", 75, "=\r\n b", 0, "");
	/* an =XX is never split, nor the two of one character */
	qp_expect_rep(74, "\xC3\xA9", 74, "=\r\n=C3=A9", 0, "");
	qp_expect_rep(73, "\xC3\xA9", 73, "=\r\n=C3=A9", 0, "");
	qp_expect_rep(72, "\xC3\xA9", 72, "=C3=\r\n=A9", 0, "");
	qp_expect_rep(73, "=\n", 73, "=3D\r\n", 0, "");
	qp_expect_rep(74, "=\n", 74, "=\r\n=3D\r\n", 0, "");
	/* a blank before a soft break is not at a line end: kept */
	qp_expect_rep(74, " xx", 74, " =\r\nxx", 0, "");
	assert_int_equal(hd_qp_encode(&(hd_buf)HD_BUF_INIT, NULL, 1),
			 HD_EINVAL);
}

/* Decodes quoted-printable; 0 when it breaks an RFC 2045 rule. */
static int qp_decode(const char *s, size_t n, hd_buf *out)
{
	size_t i = 0;
	int h, l;

	while (i < n) {
		if (s[i] == '=') {
			if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
				i += 3;
				continue;
			}
			if (i + 2 >= n)
				return 0;
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				return 0;
			hd_buf_putc(out, (char)(h << 4 | l));
			i += 3;
			continue;
		}
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return 0;
			/* no blank may end an encoded line */
			if (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
				return 0;
			hd_buf_append(out, "\r\n", 2);
			i += 2;
			continue;
		}
		if ((unsigned char)s[i] > 126 ||
		    ((unsigned char)s[i] < 32 && s[i] != '\t'))
			return 0;
		hd_buf_putc(out, s[i++]);
	}
	if (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		return 0;
	return 1;
}

static void qp_round_trip(void **state)
{
	static const char alphabet[] = "abcXYZ019 \t=.\n\n\r\xC3\xA9\xFF\x01";
	char data[2000];
	hd_buf b = HD_BUF_INIT, d = HD_BUF_INIT, want = HD_BUF_INIT;
	size_t n, i, iter;

	(void)state;
	for (iter = 0; iter < 400; iter++) {
		n = rnd() % (iter < 200 ? 200 : sizeof(data));
		for (i = 0; i < n; i++) {
			/* long lines now and then */
			if (iter % 5 == 0)
				data[i] = (char)(rnd() % 3 ? 'a' : ' ');
			else
				data[i] =
				    alphabet[rnd() % (sizeof(alphabet) - 1)];
		}
		hd_buf_reset(&b);
		hd_buf_reset(&d);
		hd_buf_reset(&want);
		assert_int_equal(hd_qp_encode(&b, data, n), HD_OK);
		check_lines(b.data ? b.data : "", b.len, 76, 0);
		if (!qp_decode(b.data ? b.data : "", b.len, &d))
			fail_msg("bad QP: %s", b.data);
		/* expected: every line end a CRLF */
		for (i = 0; i < n; i++) {
			if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
				hd_buf_putc(&want, '\r');
			hd_buf_putc(&want, data[i]);
		}
		assert_int_equal(d.len, want.len);
		if (d.len)
			assert_memory_equal(d.data, want.data, d.len);
	}
	hd_buf_free(&b);
	hd_buf_free(&d);
	hd_buf_free(&want);
}

static void needs_encoding(void **state)
{
	char *s;

	(void)state;
	assert_int_equal(hd_needs_encoding("", 0), 0);
	assert_int_equal(hd_needs_encoding("Hello\r\nworld\n", 13), 0);
	assert_int_equal(hd_needs_encoding("caf\xC3\xA9", 5), 1);
	assert_int_equal(hd_needs_encoding("a\rb", 3), 1);
	assert_int_equal(hd_needs_encoding("a\r", 2), 1);
	assert_int_equal(hd_needs_encoding("a\0b", 3), 1);
	assert_int_equal(hd_needs_encoding("tab\there", 8), 0);
	s = repeat('a', 998, "\r\nshort\n");
	assert_int_equal(hd_needs_encoding(s, strlen(s)), 0);
	free(s);
	s = repeat('a', 999, "\r\n");
	assert_int_equal(hd_needs_encoding(s, strlen(s)), 1);
	free(s);
	s = repeat('a', 999, "");
	assert_int_equal(hd_needs_encoding(s, strlen(s)), 1);
	free(s);
}

/* The byte-at-a-time rule hd_needs_encoding must agree with. */
static int needs_encoding_ref(const char *p, size_t n)
{
	size_t line = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x80 || c == '\0')
			return 1;
		if (c == '\n')
			line = 0;
		else if (c == '\r' && !(i + 1 < n && p[i + 1] == '\n'))
			return 1;
		else if (c != '\r' && ++line > 998)
			return 1;
	}
	return 0;
}

/* It looks at eight bytes at a time: every special byte at every offset
 * of a word, at every length and alignment, and lines around 998. */
static void needs_encoding_every_offset(void **state)
{
	static const char special[] = {'\0',	   '\r', '\n', (char)0x80,
				       (char)0xff, 0x7f, 0x01, ' '};
	char buf[64], *big = malloc(2100);

	(void)state;
	assert_non_null(big);
	for (size_t len = 0; len <= 40; len++)
		for (size_t at = 0; at < len; at++)
			for (size_t k = 0; k < sizeof(special); k++)
				for (size_t off = 0; off < 8; off++) {
					char *p = buf + off;
					memset(p, 'a', len);
					p[at] = special[k];
					if (hd_needs_encoding(p, len) !=
					    needs_encoding_ref(p, len))
						fail_msg(
						    "len %zu, byte %#x at %zu, "
						    "offset %zu",
						    len,
						    (unsigned char)special[k],
						    at, off);
					/* a CR, then an LF right after it */
					if (at + 1 < len) {
						p[at] = '\r';
						p[at + 1] = '\n';
						assert_int_equal(
						    hd_needs_encoding(p, len),
						    needs_encoding_ref(p, len));
					}
				}
	for (size_t run = 990; run <= 1006; run++)
		for (size_t off = 0; off < 8; off++) {
			char *p = big + off;
			size_t n = run + 2 + run;
			memset(p, 'b', n);
			p[run] = '\r';
			p[run + 1] = '\n';
			assert_int_equal(hd_needs_encoding(p, n),
					 needs_encoding_ref(p, n));
			assert_int_equal(hd_needs_encoding(p, n), run > 998);
		}
	free(big);
}

/* ---- header fields ----------------------------------------------------- */

/* Appends the header and checks status and exact text. */
static void hdr_expect(const char *name, const char *v, int al, hd_status want,
		       const char *text)
{
	hd_buf b = HD_BUF_INIT;
	hd_status st;

	hd_buf_puts(&b, "KEEP\r\n");
	st = hd_header_append(&b, name, v, strlen(v), al);
	if (st != want)
		fail_msg("%s: \"%s\": %s, want %s", name, v, hd_status_name(st),
			 hd_status_name(want));
	if (want == HD_OK)
		assert_string_equal(b.data + 6, text);
	else
		assert_string_equal(b.data, "KEEP\r\n");
	hd_buf_free(&b);
}

/* Decodes one encoded-word w[0..n) into out; 0 when w is not one.  Also
 * checks that it is at most 75 characters and that its bytes are whole
 * UTF-8 characters by themselves. */
static int ew_decode(const char *w, size_t n, hd_buf *out)
{
	hd_buf d = HD_BUF_INIT;
	size_t i;
	int h, l, ok = 1;
	char kind;

	if (n < 12 || memcmp(w, "=?UTF-8?", 8) != 0 || w[9] != '?' ||
	    memcmp(w + n - 2, "?=", 2) != 0)
		return 0;
	kind = w[8];
	if (n > HD_ENCODED_WORD_MAX)
		fail_msg("encoded-word of %zu: %.*s", n, (int)n, w);
	if (kind == 'B') {
		ok = b64_decode(w + 10, n - 12, &d);
	} else if (kind == 'Q') {
		for (i = 10; i < n - 2 && ok; i++) {
			if (w[i] == '_') {
				hd_buf_putc(&d, ' ');
			} else if (w[i] == '=') {
				h = i + 2 < n ? hexval(w[i + 1]) : -1;
				l = i + 2 < n ? hexval(w[i + 2]) : -1;
				ok = h >= 0 && l >= 0;
				hd_buf_putc(&d, (char)(h << 4 | l));
				i += 2;
			} else {
				/* RFC 2047 5(3): nothing else as is */
				ok = strchr("!*+-/", w[i]) ||
				     (w[i] >= 'a' && w[i] <= 'z') ||
				     (w[i] >= 'A' && w[i] <= 'Z') ||
				     (w[i] >= '0' && w[i] <= '9');
				hd_buf_putc(&d, w[i]);
			}
		}
	} else {
		ok = 0;
	}
	if (!ok)
		fail_msg("broken encoded-word %.*s", (int)n, w);
	if (!hd_utf8_valid(d.data ? d.data : "", d.len, NULL))
		fail_msg("encoded-word %.*s cuts a character", (int)n, w);
	hd_buf_append(out, d.data ? d.data : "", d.len);
	hd_buf_free(&d);
	return 1;
}

/* Checks the field's lines (CRLF ends, continuation lines start with a
 * blank and hold more than blanks, at most max characters) and unfolds
 * it into u, "Name:" included. */
static void unfold(const char *f, size_t n, size_t max, hd_buf *u)
{
	size_t i, start = 0, j;
	int only_blank;

	hd_buf_reset(u);
	assert_true(n >= 2 && f[n - 2] == '\r' && f[n - 1] == '\n');
	for (i = 0; i + 1 < n; i++) {
		if (f[i] != '\r')
			continue;
		assert_int_equal(f[i + 1], '\n');
		if (i - start > max)
			fail_msg("line of %zu > %zu: %.*s", i - start, max,
				 (int)(i - start), f + start);
		only_blank = 1;
		for (j = start; j < i; j++)
			if (f[j] != ' ' && f[j] != '\t')
				only_blank = 0;
		assert_false(only_blank);
		if (start)
			assert_true(f[start] == ' ' || f[start] == '\t');
		hd_buf_append(u, f + start, i - start);
		start = i + 2;
		i++;
	}
	assert_int_equal(start, n);
}

/* Decodes an unfolded unstructured value (RFC 2047 section 6.2: blanks
 * between two encoded-words go, all others stay). */
static void decode_unstructured(const char *v, size_t n, hd_buf *out)
{
	size_t i = 0, ws, w0, w1;
	int prev_ew = 0, is_ew;
	hd_buf word = HD_BUF_INIT;

	while (i < n) {
		ws = i;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		w0 = i;
		while (i < n && v[i] != ' ' && v[i] != '\t')
			i++;
		w1 = i;
		hd_buf_reset(&word);
		is_ew = w1 > w0 && ew_decode(v + w0, w1 - w0, &word);
		if (!(is_ew && prev_ew))
			hd_buf_append(out, v + ws, w0 - ws);
		if (is_ew)
			hd_buf_append(out, word.data, word.len);
		else
			hd_buf_append(out, v + w0, w1 - w0);
		prev_ew = is_ew;
	}
	hd_buf_free(&word);
}

/* Writes Subject: s, checks the lines (max characters) and that it
 * decodes to s without its outer blanks. */
static void subject_round_trip(const char *name, const char *s, size_t max)
{
	hd_buf b = HD_BUF_INIT, u = HD_BUF_INIT, d = HD_BUF_INIT;
	size_t nl = strlen(name), a = 0, z = strlen(s);
	hd_status st;

	st = hd_header_append(&b, name, s, strlen(s), 0);
	if (st != HD_OK)
		fail_msg("\"%s\": %s", s, hd_status_name(st));
	unfold(b.data, b.len, max, &u);
	assert_memory_equal(u.data, name, nl);
	assert_int_equal(u.data[nl], ':');
	while (a < z && (s[a] == ' ' || s[a] == '\t'))
		a++;
	while (z > a && (s[z - 1] == ' ' || s[z - 1] == '\t'))
		z--;
	if (a == z) {
		assert_int_equal(u.len, nl + 1);
	} else {
		assert_int_equal(u.data[nl + 1], ' ');
		decode_unstructured(u.data + nl + 2, u.len - nl - 2, &d);
		if (d.len != z - a || memcmp(d.data, s + a, d.len) != 0)
			fail_msg("\"%.*s\" came back as \"%s\" from\n%s",
				 (int)(z - a), s + a, d.data, b.data);
	}
	hd_buf_free(&b);
	hd_buf_free(&u);
	hd_buf_free(&d);
}

static void header_ascii(void **state)
{
	char *w;
	hd_buf b = HD_BUF_INIT;

	(void)state;
	hdr_expect("Subject", "Hello world", 0, HD_OK,
		   "Subject: Hello world\r\n");
	hdr_expect("Subject", "  padded \t", 0, HD_OK, "Subject: padded\r\n");
	hdr_expect("Subject", "", 0, HD_OK, "Subject:\r\n");
	hdr_expect("Subject", "a  \t b", 0, HD_OK, "Subject: a  \t b\r\n");
	hdr_expect("Subject",
		   "abcdefghi abcdefghi abcdefghi abcdefghi abcdefghi "
		   "abcdefghi abcdefghi abcdefghi",
		   0, HD_OK,
		   "Subject: abcdefghi abcdefghi abcdefghi abcdefghi "
		   "abcdefghi abcdefghi abcdefghi\r\n abcdefghi\r\n");
	/* a fold keeps a run of blanks whole, at the start of the line */
	hdr_expect("Subject",
		   "abcdefghi abcdefghi abcdefghi abcdefghi abcdefghi "
		   "abcdefghi abcdefghi   abcdefghi",
		   0, HD_OK,
		   "Subject: abcdefghi abcdefghi abcdefghi abcdefghi "
		   "abcdefghi abcdefghi abcdefghi\r\n   abcdefghi\r\n");
	/* "=?" could be read as an encoded-word: it is encoded itself */
	hdr_expect("Subject", "Hello =?x?= world", 0, HD_OK,
		   "Subject: Hello =?UTF-8?B?PT94Pz0=?= world\r\n");
	subject_round_trip("Subject", "Hello =?x?= world", 78);
	subject_round_trip("Subject",
			   "=?UTF-8?B?SGk=?= looks encoded, and is not", 78);

	/* bad names and values; the buffer is left as it was */
	hdr_expect("", "x", 0, HD_EHEADER, NULL);
	hdr_expect("Sub ject", "x", 0, HD_EHEADER, NULL);
	hdr_expect("Sub:ject", "x", 0, HD_EHEADER, NULL);
	hdr_expect("Sub\xC3\xA9", "x", 0, HD_EHEADER, NULL);
	hdr_expect("Subject", "x\r\nBcc: y@z.example", 0, HD_EHEADER, NULL);
	hdr_expect("Subject", "x\nBcc: y@z.example", 0, HD_EHEADER, NULL);
	hdr_expect("Subject", "x\r", 0, HD_EHEADER, NULL);
	hdr_expect("Subject", "x\x01", 0, HD_EHEADER, NULL);
	hdr_expect("Subject", "x\x7F", 0, HD_EHEADER, NULL);
	hdr_expect("Subject", "caf\xC3", 0, HD_EUTF8, NULL);
	hdr_expect("Subject", "\xED\xA0\x80", 0, HD_EUTF8, NULL);
	assert_int_equal(hd_header_append(&b, NULL, "x", 1, 0), HD_EHEADER);
	assert_int_equal(hd_header_append(&b, "S", "a\0b", 3, 0), HD_EHEADER);
	assert_int_equal(b.len, 0);

	/* 998 octets a line at most: "Subject: " + 989 fills the first */
	w = repeat('x', 989, "");
	assert_int_equal(hd_header_append(&b, "Subject", w, 989, 0), HD_OK);
	assert_int_equal(b.len, 998 + 2);
	free(w);
	w = repeat('x', 990, "");
	hd_buf_reset(&b);
	assert_int_equal(hd_header_append(&b, "Subject", w, 990, 0), HD_ELIMIT);
	assert_int_equal(b.len, 0);
	free(w);
	/* a later word goes on a line of its own: 1 blank + 997 */
	w = repeat('x', 999, "");
	memcpy(w, "a ", 2);
	hd_buf_reset(&b);
	assert_int_equal(hd_header_append(&b, "Subject", w, 999, 0), HD_OK);
	assert_int_equal(b.len, strlen("Subject: a\r\n ") + 997 + 2);
	assert_memory_equal(b.data, "Subject: a\r\n x", 14);
	free(w);
	w = repeat('x', 1000, "");
	memcpy(w, "a ", 2);
	hd_buf_reset(&b);
	assert_int_equal(hd_header_append(&b, "Subject", w, 1000, 0),
			 HD_ELIMIT);
	assert_int_equal(b.len, 0);
	free(w);
	hd_buf_free(&b);
}

/* Subjects in several scripts, some long enough for many words. */
static const char *const subjects[] = {
    "caf\xC3\xA9",
    "encyclopaedia-\xC3\xBC"
    "ber-alles",
    "Hello w\xC3\xB6rld",
    /* Cyrillic */
    "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82, \xD0\xBC\xD0\xB8"
    "\xD1\x80! \xD0\x92\xD0\xB0\xD1\x88 \xD1\x81\xD1\x87\xD1\x91\xD1\x82 "
    "\xE2\x84\x96 42 \xD0\xBE\xD0\xBF\xD0\xBB\xD0\xB0\xD1\x87\xD0\xB5"
    "\xD0\xBD, \xD1\x81\xD0\xBF\xD0\xB0\xD1\x81\xD0\xB8\xD0\xB1\xD0\xBE "
    "\xD0\xB7\xD0\xB0 \xD0\xB7\xD0\xB0\xD0\xBA\xD0\xB0\xD0\xB7 \xD0\xB2 "
    "\xD0\xBD\xD0\xB0\xD1\x88\xD0\xB5\xD0\xBC \xD0\xBC\xD0\xB0\xD0\xB3"
    "\xD0\xB0\xD0\xB7\xD0\xB8\xD0\xBD\xD0\xB5",
    /* CJK: 日本語のテキスト、長い件名のテストです。 x3 */
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82"
    "\xAD\xE3\x82\xB9\xE3\x83\x88\xE3\x80\x81\xE9\x95\xB7\xE3\x81\x84\xE4"
    "\xBB\xB6\xE5\x90\x8D\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88"
    "\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82"
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82"
    "\xAD\xE3\x82\xB9\xE3\x83\x88\xE3\x80\x81\xE9\x95\xB7\xE3\x81\x84\xE4"
    "\xBB\xB6\xE5\x90\x8D\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88"
    "\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82"
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82"
    "\xAD\xE3\x82\xB9\xE3\x83\x88",
    /* emoji (4 bytes each), with plain words and double blanks */
    "Party \xF0\x9F\x8E\x89\xF0\x9F\x8E\x89  time \xF0\x9F\x98\x80\xF0\x9F"
    "\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98"
    "\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
    "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80 end",
    /* mixed, blanks inside and around the runs */
    "Re: \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82  \t \xE4\xB8\x96"
    "\xE7\x95\x8C  and\tw\xC3\xB6rld \xF0\x9F\x98\x80 = ? _ \"q\" (c)",
};

static void header_encoded(void **state)
{
	size_t i;
	hd_buf b = HD_BUF_INIT;

	(void)state;
	hdr_expect("Subject", "caf\xC3\xA9", 0, HD_OK,
		   "Subject: =?UTF-8?B?Y2Fmw6k=?=\r\n");
	hdr_expect("Subject",
		   "encyclopaedia-\xC3\xBC"
		   "ber-alles",
		   0, HD_OK,
		   "Subject: =?UTF-8?Q?encyclopaedia-=C3=BCber-alles?=\r\n");
	hdr_expect("Subject", "Hello w\xC3\xB6rld", 0, HD_OK,
		   "Subject: Hello =?UTF-8?B?d8O2cmxk?=\r\n");
	/* neighbouring non-ASCII words: one run, the blank inside it */
	hdr_expect("Subject", "\xC3\xA9 \xC3\xA9 x", 0, HD_OK,
		   "Subject: =?UTF-8?B?w6kgw6k=?= x\r\n");
	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		subject_round_trip("Subject", subjects[i], 78);
		subject_round_trip("X-Campaign-Notification-Subject-Line",
				   subjects[i], 78);
	}
	/* a name too long for 78: the first word still goes on line 1 */
	subject_round_trip("X-A-Very-Long-Header-Name-That-Leaves-Almost-No-"
			   "Room-On-Its-Line",
			   subjects[3], 998);
	/* every emoji stays whole: 4-byte characters, words of 75 */
	assert_int_equal(hd_header_append(&b, "Subject", subjects[5],
					  strlen(subjects[5]), 0),
			 HD_OK);
	assert_non_null(strstr(b.data, "\r\n =?UTF-8?B?"));
	hd_buf_free(&b);
}

/* Random values built from words of several scripts and blanks. */
static void header_random(void **state)
{
	static const char *const words[] = {
	    "a",
	    "Hello",
	    "x=?y",
	    "?=",
	    "=",
	    "_",
	    "\"",
	    "(c)",
	    ",",
	    "\xC3\xA9",
	    "w\xC3\xB6rld",
	    "\xD0\x9C\xD0\xB8\xD1\x80",
	    "\xE4\xB8\x96\xE7\x95\x8C",
	    "\xF0\x9F\x98\x80",
	    "\xF0\x9F\x8E\x89\xF0\x9F\x8E\x89\xF0\x9F\x8E\x89",
	    "averyveryverylongasciiwordthatgoesonandonforsometime",
	    "\xE2\x80\xA8",
	};
	static const char *const blanks[] = {" ", " ", " ", "  ", "\t", " \t "};
	hd_buf v = HD_BUF_INIT;
	size_t iter, k, nw;

	(void)state;
	for (iter = 0; iter < 400; iter++) {
		hd_buf_reset(&v);
		nw = 1 + rnd() % 40;
		for (k = 0; k < nw; k++) {
			if (k || rnd() % 4 == 0)
				hd_buf_puts(&v, blanks[rnd() % 6]);
			hd_buf_puts(
			    &v,
			    words[rnd() % (sizeof(words) / sizeof(words[0]))]);
		}
		subject_round_trip("Subject", v.data, 78);
	}
	hd_buf_free(&v);
}

static void header_address_list(void **state)
{
	hd_buf v = HD_BUF_INIT, b = HD_BUF_INIT, u = HD_BUF_INIT;
	hd_mailbox *l;
	size_t count, i, j;

	(void)state;
	hdr_expect("To", "Ann <a@b.example>, \"Doe, John\" <j@d.example>", 1,
		   HD_OK,
		   "To: Ann <a@b.example>, \"Doe, John\" <j@d.example>\r\n");
	hdr_expect("To", "  a@b.example ", 1, HD_OK, "To: a@b.example\r\n");
	hdr_expect("To", "<a@b.example>", 1, HD_OK, "To: a@b.example\r\n");
	hdr_expect("From", "J\xC3\xB6rg <j@x.example>", 1, HD_OK,
		   "From: =?UTF-8?B?SsO2cmc=?= <j@x.example>\r\n");
	hdr_expect("To", "John Q. Public <j@x.example>", 1, HD_OK,
		   "To: \"John Q. Public\" <j@x.example>\r\n");
	hdr_expect("To", "\"A \\\"B\\\" \\\\\" <x@y.example>", 1, HD_OK,
		   "To: \"A \\\"B\\\" \\\\\" <x@y.example>\r\n");
	hdr_expect("To", "\"=?x?=\" <x@y.example>", 1, HD_OK,
		   "To: =?UTF-8?B?PT94Pz0=?= <x@y.example>\r\n");
	hdr_expect("Reply-To", "Ann   Lee <a@b.example>", 1, HD_OK,
		   "Reply-To: Ann Lee <a@b.example>\r\n");
	hdr_expect("To", "Ann <a@b.example>,", 1, HD_EADDRESS, NULL);
	hdr_expect("To", "team: a@b.example;", 1, HD_EADDRESS, NULL);
	hdr_expect("To", "", 1, HD_EADDRESS, NULL);
	hdr_expect("To", "J\xC3\xB6rg <j\xC3\xB6@x.example>", 1, HD_EADDRESS,
		   NULL);
	hdr_expect("To", "Ann <a@b.example>\r\nBcc: e@f.example", 1, HD_EHEADER,
		   NULL);

	/* a long list folds after commas and parses back the same */
	for (i = 0; i < 40; i++)
		hd_buf_printf(&v, "%s%s User %zu <user%zu@example.com>",
			      i ? ", " : "", i % 3 ? "Plain" : "\"Doe, J.\"", i,
			      i);
	assert_int_equal(hd_header_append(&b, "Cc", v.data, v.len, 1), HD_OK);
	unfold(b.data, b.len, 78, &u);
	for (i = 0; i + 1 < b.len; i++)
		if (b.data[i] == '\r' && i + 2 < b.len)
			assert_int_equal(b.data[i - 1], ',');
	assert_int_equal(
	    hd_mailbox_list_parse(u.data + 3, u.len - 3, &l, &count, NULL),
	    HD_OK);
	assert_int_equal(count, 40);
	for (i = 0; i < count; i++) {
		char want[64];

		snprintf(want, sizeof(want), "%s User %zu",
			 i % 3 ? "Plain" : "Doe, J.", i);
		assert_string_equal(l[i].display, want);
		snprintf(want, sizeof(want), "user%zu@example.com", i);
		assert_string_equal(l[i].addr, want);
	}
	hd_mailbox_list_free(l, count);

	/* long non-ASCII names: words within 75, whole characters */
	hd_buf_reset(&v);
	hd_buf_reset(&b);
	for (i = 0; i < 5; i++) {
		hd_buf_puts(&v, i ? ", " : "");
		for (j = 0; j < 20; j++)
			hd_buf_puts(&v, "\xE4\xB8\x96\xE7\x95\x8C");
		hd_buf_printf(&v, " <u%zu@example.com>", i);
	}
	assert_int_equal(hd_header_append(&b, "To", v.data, v.len, 1), HD_OK);
	unfold(b.data, b.len, 78, &u);
	hd_buf_free(&v);
	hd_buf_free(&b);
	hd_buf_free(&u);
}

/* ---- MIME parameters --------------------------------------------------- */

static void param_expect(const char *name, const char *value, hd_status want,
			 const char *text)
{
	hd_buf b = HD_BUF_INIT;

	hd_buf_puts(&b, "attachment");
	assert_int_equal(hd_mime_param(&b, name, value), want);
	if (want == HD_OK)
		assert_string_equal(b.data + 10, text);
	else
		assert_string_equal(b.data, "attachment");
	hd_buf_free(&b);
}

/* Decodes '; name*0*=UTF-8''...; name*1*=...' (or the one-piece form)
 * back into out, checking that each piece is whole UTF-8 characters. */
static void param_decode(const char *p, const char *name, hd_buf *out)
{
	char head[100];
	size_t part = 0, k, hl;
	const char *e;
	hd_buf seg = HD_BUF_INIT;
	int h, l;

	while (*p) {
		assert_memory_equal(p, "; ", 2);
		p += 2;
		hl = (size_t)snprintf(head, sizeof(head), "%s*%zu*=", name,
				      part);
		if (strncmp(p, head, hl) != 0) {
			assert_int_equal(part, 0);
			hl = (size_t)snprintf(head, sizeof(head), "%s*=", name);
			assert_memory_equal(p, head, hl);
		}
		p += hl;
		if (part == 0) {
			assert_memory_equal(p, "UTF-8''", 7);
			p += 7;
		}
		e = strchr(p, ';');
		if (!e)
			e = p + strlen(p);
		hd_buf_reset(&seg);
		for (k = 0; p + k < e; k++) {
			if (p[k] == '%') {
				h = hexval(p[k + 1]);
				l = hexval(p[k + 2]);
				assert_true(h >= 0 && l >= 0);
				hd_buf_putc(&seg, (char)(h << 4 | l));
				k += 2;
			} else {
				assert_null(
				    strchr("*'%()<>@,;:\\\"/[]?= ", p[k]));
				hd_buf_putc(&seg, p[k]);
			}
		}
		assert_true(
		    hd_utf8_valid(seg.data ? seg.data : "", seg.len, NULL));
		hd_buf_append(out, seg.data ? seg.data : "", seg.len);
		p = e;
		part++;
	}
	hd_buf_free(&seg);
}

static void mime_params(void **state)
{
	const char *long_name =
	    "\xD0\xBE\xD1\x82\xD1\x87\xD1\x91\xD1\x82 \xD0\xB7\xD0\xB0 "
	    "\xD0\xBA\xD0\xB2\xD0\xB0\xD1\x80\xD1\x82\xD0\xB0\xD0\xBB, "
	    "\xD0\xBE\xD1\x87\xD0\xB5\xD0\xBD\xD1\x8C \xD0\xB4\xD0\xBB\xD0"
	    "\xB8\xD0\xBD\xD0\xBD\xD0\xBE\xD0\xB5 \xD0\xB8\xD0\xBC\xD1\x8F "
	    "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80.pdf";
	hd_buf b = HD_BUF_INIT, d = HD_BUF_INIT, h = HD_BUF_INIT;
	char *s;

	(void)state;
	param_expect("filename", "report.pdf", HD_OK,
		     "; filename=\"report.pdf\"");
	param_expect("filename", "my report (final).pdf", HD_OK,
		     "; filename=\"my report (final).pdf\"");
	param_expect("name", "", HD_OK, "; name=\"\"");
	param_expect("filename", "na\xC3\xAFve.txt", HD_OK,
		     "; filename*=UTF-8''na%C3%AFve.txt");
	param_expect("filename", "a\"b\\c.txt", HD_OK,
		     "; filename*=UTF-8''a%22b%5Cc.txt");
	param_expect("filename", "x=?y", HD_OK, "; filename*=UTF-8''x%3D%3Fy");
	param_expect("filename", "tab\there", HD_OK,
		     "; filename*=UTF-8''tab%09here");
	/* ' name="..."' fits 78 with 69 characters; then RFC 2231, one
	 * piece up to 63, continuations of 61, 68, 68 ... */
	s = repeat('a', 131, "");
	{
		char want[300], *q;

		s[69] = '\0';
		snprintf(want, sizeof(want), "; name=\"%s\"", s);
		param_expect("name", s, HD_OK, want);
		s[69] = 'a';
		s[70] = '\0';
		snprintf(want, sizeof(want),
			 "; name*0*=UTF-8''%.61s; name*1*=aaaaaaaaa", s);
		param_expect("name", s, HD_OK, want);
		s[70] = 'a';
		snprintf(want, sizeof(want),
			 "; name*0*=UTF-8''%.61s; name*1*=%.68s; name*2*=aa", s,
			 s);
		param_expect("name", s, HD_OK, want);
		q = repeat('a', 60, "\"");
		snprintf(want, sizeof(want), "; name*=UTF-8''%.60s%%22", s);
		param_expect("name", q, HD_OK, want);
		free(q);
		q = repeat('a', 61, "\"");
		snprintf(want, sizeof(want),
			 "; name*0*=UTF-8''%.61s; name*1*=%%22", s);
		param_expect("name", q, HD_OK, want);
		free(q);
	}
	free(s);
	param_expect("", "x", HD_EINVAL, NULL);
	param_expect("file name", "x", HD_EINVAL, NULL);
	param_expect("file*", "x", HD_EINVAL, NULL);
	param_expect("filename", NULL, HD_EINVAL, NULL);
	param_expect("filename", "caf\xC3", HD_EUTF8, NULL);

	/* a long one: continuations that decode back, fold in a header */
	assert_int_equal(hd_mime_param(&b, "filename", long_name), HD_OK);
	assert_non_null(strstr(b.data, "; filename*1*="));
	param_decode(b.data, "filename", &d);
	assert_int_equal(d.len, strlen(long_name));
	assert_memory_equal(d.data, long_name, d.len);
	hd_buf_reset(&d);
	hd_buf_puts(&d, "attachment");
	hd_buf_append(&d, b.data, b.len);
	assert_int_equal(
	    hd_header_append(&h, "Content-Disposition", d.data, d.len, 0),
	    HD_OK);
	check_lines(h.data, h.len, 78, 1);
	hd_buf_free(&b);
	hd_buf_free(&d);
	hd_buf_free(&h);
}

/* ---- Python's email package as an outside reader ----------------------- */

static const char python_script[] =
    "import sys, email, email.policy\n"
    "from email.header import decode_header, make_header\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "m = email.message_from_bytes(raw, policy=email.policy.default)\n"
    "old = email.message_from_bytes(raw)\n"
    "for k, v in m.items():\n"
    "    if k.lower() in ('to', 'cc', 'from'):\n"
    "        for a in v.addresses:\n"
    "            print('A', a.display_name.encode().hex(),\n"
    "                  a.addr_spec.encode().hex())\n"
    "    elif k.lower() == 'content-disposition':\n"
    "        print('F', m.get_filename().encode().hex())\n"
    "    else:\n"
    "        print('S', str(v).encode().hex())\n"
    "for k, v in old.items():\n"
    "    if k.lower().startswith('x-s'):\n"
    "        print('D', str(make_header(decode_header(v))).encode().hex())\n"
    "print('T', str(make_header(decode_header(old['To']))).encode().hex())\n";

/* Python's bytes.hex() writes lower case. */
static int hexval_lower(char c)
{
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return hexval(c);
}

/* s[0..n) with each run of blanks made one space, into out. */
static void squeeze(const char *s, size_t n, hd_buf *out)
{
	size_t i;
	int blank = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t') {
			if (!blank)
				hd_buf_putc(out, ' ');
			blank = 1;
			continue;
		}
		blank = 0;
		hd_buf_putc(out, s[i]);
	}
}

/*
 * Reads one "TAG hex [hex]" line from Python and checks that the fields
 * decode to a (and b).  With sq, each run of blanks counts as one space
 * in field 0, for two of Python's quirks:
 *  - its phrase parser (policy.default, display names) puts a space
 *    between adjacent encoded-words, where RFC 2047 section 6.2 says to
 *    drop the blank (its unstructured parser does drop it).  Our words
 *    end after a blank where there is one, so Python only doubles a
 *    space, and a word cut in two would still fail here;
 *  - the legacy decode_header()/make_header() pair rebuilds the blanks
 *    between plain text and an encoded-word as one space.
 * policy.default's unstructured values (the 'S' lines) are compared
 * exactly.
 */
static void py_expect(FILE *p, char tag, const char *a, const char *b, int sq)
{
	char line[8192], *field, *sp;
	const char *want[2] = {a, b};
	hd_buf got = HD_BUF_INIT, g2 = HD_BUF_INIT, w2 = HD_BUF_INIT;
	size_t k, n;
	int f;

	if (!fgets(line, sizeof(line), p))
		fail_msg("python gave no line for '%c' \"%s\"", tag, a);
	line[strcspn(line, "\n")] = '\0';
	assert_int_equal(line[0], tag);
	field = line + 2;
	for (f = 0; f < (b ? 2 : 1); f++) {
		sp = strchr(field, ' ');
		if (sp)
			*sp = '\0';
		hd_buf_reset(&got);
		n = strlen(field) / 2;
		for (k = 0; k < n; k++)
			hd_buf_putc(&got,
				    (char)(hexval_lower(field[2 * k]) << 4 |
					   hexval_lower(field[2 * k + 1])));
		hd_buf_reset(&g2);
		hd_buf_reset(&w2);
		if (sq && f == 0) {
			squeeze(got.data ? got.data : "", got.len, &g2);
			squeeze(want[f], strlen(want[f]), &w2);
		} else {
			hd_buf_append(&g2, got.data ? got.data : "", got.len);
			hd_buf_puts(&w2, want[f]);
		}
		if (g2.len != w2.len ||
		    memcmp(g2.data ? g2.data : "", w2.data ? w2.data : "",
			   g2.len) != 0)
			fail_msg("python read '%c' field %d as \"%s\", want "
				 "\"%s\"",
				 tag, f, got.data ? got.data : "", want[f]);
		field = sp ? sp + 1 : field + strlen(field);
	}
	hd_buf_free(&got);
	hd_buf_free(&g2);
	hd_buf_free(&w2);
}

static void python_reader(void **state)
{
	static const char *const extra[] = {
	    "simple ASCII subject",
	    "a  double  blank and\ttab",
	    "\xE2\x80\xA8 separator \xE2\x80\xA9",
	    "x=?y ?= =?UTF-8?B?SGk=?= looks encoded, is not",
	};
	char msgpath[] = "/tmp/herald_test_encode_XXXXXX";
	char pypath[] = "/tmp/herald_test_encode_py_XXXXXX";
	char cmd[256];
	hd_buf m = HD_BUF_INIT, cd = HD_BUF_INIT;
	const char *to =
	    "J\xC3\xB6rg M\xC3\xBC"
	    "ller <jm@x.example>, "
	    "\"Doe, John\" <j@d.example>, plain@x.example, "
	    "\"\xE5\xB1\xB1\xE7\x94\xB0, \xE5\xA4\xAA\xE9\x83\x8E\" "
	    "<t@y.example>, John Q. Public <q@y.example>, "
	    "\xD0\x9E\xD1\x87\xD0\xB5\xD0\xBD\xD1\x8C \xD0\x94\xD0"
	    "\xBB\xD0\xB8\xD0\xBD\xD0\xBD\xD0\xBE\xD0\xB5 \xD0\x98"
	    "\xD0\xBC\xD1\x8F \xD0\x9F\xD0\xBE\xD0\xBB\xD1\x83\xD1"
	    "\x87\xD0\xB0\xD1\x82\xD0\xB5\xD0\xBB\xD1\x8F \xD0\x94"
	    "\xD0\xBB\xD1\x8F \xD0\x9F\xD1\x80\xD0\xBE\xD0\xB2\xD0"
	    "\xB5\xD1\x80\xD0\xBA\xD0\xB8 <long@example.com>";
	const char *fname =
	    "\xD0\xBE\xD1\x82\xD1\x87\xD1\x91\xD1\x82 \"Q3\" \xD0\xB7\xD0"
	    "\xB0 \xD0\xBA\xD0\xB2\xD0\xB0\xD1\x80\xD1\x82\xD0\xB0\xD0\xBB "
	    "\xF0\x9F\x98\x80 2024; \xD0\xB8\xD1\x82\xD0\xBE\xD0\xB3.pdf";
	size_t i, ns = sizeof(subjects) / sizeof(subjects[0]);
	size_t ne = sizeof(extra) / sizeof(extra[0]);
	FILE *p;
	int fd;

	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0) {
		fprintf(stderr, "note: /usr/bin/python3 not found, the "
				"Python reader check is skipped\n");
		return;
	}
	for (i = 0; i < ns; i++) {
		char name[32];

		snprintf(name, sizeof(name), "X-S%zu", i);
		assert_int_equal(hd_header_append(&m, name, subjects[i],
						  strlen(subjects[i]), 0),
				 HD_OK);
	}
	for (i = 0; i < ne; i++) {
		char name[32];

		snprintf(name, sizeof(name), "X-S%zu", ns + i);
		assert_int_equal(
		    hd_header_append(&m, name, extra[i], strlen(extra[i]), 0),
		    HD_OK);
	}
	assert_int_equal(hd_header_append(&m, "To", to, strlen(to), 1), HD_OK);
	hd_buf_puts(&cd, "attachment");
	assert_int_equal(hd_mime_param(&cd, "filename", fname), HD_OK);
	assert_int_equal(
	    hd_header_append(&m, "Content-Disposition", cd.data, cd.len, 0),
	    HD_OK);
	hd_buf_puts(&m, "\r\nbody\r\n");

	fd = mkstemp(msgpath);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, m.data, m.len), (ssize_t)m.len);
	close(fd);
	fd = mkstemp(pypath);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, python_script, sizeof(python_script) - 1),
			 (ssize_t)sizeof(python_script) - 1);
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", pypath, msgpath);
	p = popen(cmd, "r");
	assert_non_null(p);
	for (i = 0; i < ns; i++)
		py_expect(p, 'S', subjects[i], NULL, 0);
	for (i = 0; i < ne; i++)
		py_expect(p, 'S', extra[i], NULL, 0);
	py_expect(p, 'A', "J\xC3\xB6rg M\xC3\xBCller", "jm@x.example", 0);
	py_expect(p, 'A', "Doe, John", "j@d.example", 0);
	py_expect(p, 'A', "", "plain@x.example", 0);
	py_expect(p, 'A', "\xE5\xB1\xB1\xE7\x94\xB0, \xE5\xA4\xAA\xE9\x83\x8E",
		  "t@y.example", 0);
	py_expect(p, 'A', "John Q. Public", "q@y.example", 0);
	py_expect(p, 'A',
		  "\xD0\x9E\xD1\x87\xD0\xB5\xD0\xBD\xD1\x8C \xD0\x94\xD0"
		  "\xBB\xD0\xB8\xD0\xBD\xD0\xBD\xD0\xBE\xD0\xB5 \xD0\x98"
		  "\xD0\xBC\xD1\x8F \xD0\x9F\xD0\xBE\xD0\xBB\xD1\x83\xD1"
		  "\x87\xD0\xB0\xD1\x82\xD0\xB5\xD0\xBB\xD1\x8F \xD0\x94"
		  "\xD0\xBB\xD1\x8F \xD0\x9F\xD1\x80\xD0\xBE\xD0\xB2\xD0"
		  "\xB5\xD1\x80\xD0\xBA\xD0\xB8",
		  "long@example.com", 1);
	py_expect(p, 'F', fname, NULL, 0);
	for (i = 0; i < ns; i++)
		py_expect(p, 'D', subjects[i], NULL, 1);
	for (i = 0; i < ne; i++)
		py_expect(p, 'D', extra[i], NULL, 1);
	/* decode_header keeps to RFC 2047 6.2 in phrases too: exact */
	py_expect(p, 'T',
		  "J\xC3\xB6rg M\xC3\xBCller <jm@x.example>, \"Doe, John\" "
		  "<j@d.example>, plain@x.example, \xE5\xB1\xB1\xE7\x94\xB0, "
		  "\xE5\xA4\xAA\xE9\x83\x8E <t@y.example>, \"John Q. Public\" "
		  "<q@y.example>, "
		  "\xD0\x9E\xD1\x87\xD0\xB5\xD0\xBD\xD1\x8C \xD0\x94\xD0"
		  "\xBB\xD0\xB8\xD0\xBD\xD0\xBD\xD0\xBE\xD0\xB5 \xD0\x98"
		  "\xD0\xBC\xD1\x8F \xD0\x9F\xD0\xBE\xD0\xBB\xD1\x83\xD1"
		  "\x87\xD0\xB0\xD1\x82\xD0\xB5\xD0\xBB\xD1\x8F \xD0\x94"
		  "\xD0\xBB\xD1\x8F \xD0\x9F\xD1\x80\xD0\xBE\xD0\xB2\xD0"
		  "\xB5\xD1\x80\xD0\xBA\xD0\xB8 <long@example.com>",
		  NULL, 0);
	assert_int_equal(pclose(p), 0);
	unlink(msgpath);
	unlink(pypath);
	hd_buf_free(&m);
	hd_buf_free(&cd);
}

/* A list parsed once by the caller is written exactly as the header
 * writer writes it after parsing it itself: plain, quoted and encoded
 * names, a list long enough to fold, blanks at either end. */
static void header_from_parsed_mailboxes(void **state)
{
	static const char *const values[] = {
	    "ann@x.example",
	    "Ann Smith <ann@x.example>",
	    "  \"Smith, Ann\" <ann@x.example> ,bo@y.example  ",
	    "Chlo\xc3\xa9 Martin <chloe@x.example>, \"a\\\"b\" <ab@x.example>",
	    "One Person <one@x.example>, Two Person <two@x.example>, Three "
	    "Person <three@x.example>, Four Person <four@x.example>, Five "
	    "<five@x.example>",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		hd_buf a = HD_BUF_INIT, b = HD_BUF_INIT;
		hd_mailbox *list = NULL;
		size_t n = 0, len = strlen(values[i]);

		assert_int_equal(
		    hd_mailbox_list_parse(values[i], len, &list, &n, NULL),
		    HD_OK);
		assert_int_equal(hd_header_append(&a, "To", values[i], len, 1),
				 HD_OK);
		assert_int_equal(hd_header_append_mailboxes(&b, "To", values[i],
							    len, list, n),
				 HD_OK);
		assert_string_equal(a.data, b.data);
		hd_mailbox_list_free(list, n);
		hd_buf_free(&a);
		hd_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(header_from_parsed_mailboxes),
	    cmocka_unit_test(base64_vectors),
	    cmocka_unit_test(base64_round_trip),
	    cmocka_unit_test(base64url),
	    cmocka_unit_test(qp_vectors),
	    cmocka_unit_test(qp_round_trip),
	    cmocka_unit_test(needs_encoding),
	    cmocka_unit_test(needs_encoding_every_offset),
	    cmocka_unit_test(header_ascii),
	    cmocka_unit_test(header_encoded),
	    cmocka_unit_test(header_random),
	    cmocka_unit_test(header_address_list),
	    cmocka_unit_test(mime_params),
	    cmocka_unit_test(python_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

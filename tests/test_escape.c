/* test_escape.c — escapers per output context (lib/escape.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

/* Runs fn on s[0..n) and checks status and (when HD_OK) exact output. */
static void expect(hd_escape_fn fn, const char *s, size_t n, hd_status want,
		   const char *out)
{
	hd_buf b = HD_BUF_INIT;
	hd_error err;
	hd_status st;

	hd_error_clear(&err);
	/* something already in the buffer must survive a failure as is */
	assert_int_equal(hd_buf_puts(&b, "KEEP"), HD_OK);
	st = fn(&b, s, n, &err);
	if (st != want)
		fail_msg("status %s, want %s (%s) for \"%.*s\"",
			 hd_status_name(st), hd_status_name(want), err.msg,
			 (int)n, s);
	if (want == HD_OK) {
		assert_int_equal(b.len, 4 + strlen(out));
		assert_memory_equal(b.data, "KEEP", 4);
		assert_string_equal(b.data + 4, out);
	} else {
		assert_int_equal(err.code, want);
		assert_true(err.msg[0] != '\0');
		assert_int_equal(b.len, 4);
		assert_string_equal(b.data, "KEEP");
	}
	hd_buf_free(&b);
}

#define EXPECT(fn, lit, want, out) expect(fn, lit, sizeof(lit) - 1, want, out)

static void utf8_strict(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		int ok;
		size_t bad;
	} cases[] = {
	    {"", 0, 1, 0},
	    {"plain", 5, 1, 0},
	    {"\x00", 1, 1, 0},
	    {"caf\xC3\xA9", 5, 1, 0},
	    {"\xE2\x82\xAC", 3, 1, 0},	   /* U+20AC */
	    {"\xED\x9F\xBF", 3, 1, 0},	   /* U+D7FF */
	    {"\xEE\x80\x80", 3, 1, 0},	   /* U+E000 */
	    {"\xF0\x9F\x98\x80", 4, 1, 0}, /* U+1F600 */
	    {"\xF4\x8F\xBF\xBF", 4, 1, 0}, /* U+10FFFF */
	    {"\xC0\xAF", 2, 0, 0},	   /* overlong '/' */
	    {"\xC1\xBF", 2, 0, 0},	   /* overlong */
	    {"ab\xE0\x80\xAF", 5, 0, 2},   /* overlong 3-byte */
	    {"\xF0\x80\x80\xAF", 4, 0, 0}, /* overlong 4-byte */
	    {"x\xED\xA0\x80", 4, 0, 1},	   /* U+D800 surrogate */
	    {"\xED\xBF\xBF", 3, 0, 0},	   /* U+DFFF surrogate */
	    {"\xF4\x90\x80\x80", 4, 0, 0}, /* U+110000 */
	    {"\xF5\x80\x80\x80", 4, 0, 0},
	    {"\xFF", 1, 0, 0},
	    {"a\x80", 2, 0, 1},	       /* lone continuation */
	    {"abc\xE2\x82", 5, 0, 3},  /* truncated */
	    {"\xC3", 1, 0, 0},	       /* truncated */
	    {"\xC3\x28", 2, 0, 0},     /* bad continuation */
	    {"\xF0\x9F\x98", 3, 0, 0}, /* truncated 4-byte */
	};
	size_t i, bad;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bad = 999;
		if (hd_utf8_valid(cases[i].s, cases[i].n, &bad) != cases[i].ok)
			fail_msg("case %zu: wrong verdict", i);
		if (!cases[i].ok && bad != cases[i].bad)
			fail_msg("case %zu: offset %zu, want %zu", i, bad,
				 cases[i].bad);
		/* the same between runs of ASCII of every length, which
		 * the scan takes eight bytes at a time */
		for (size_t pre = 0; pre < 20; pre++)
			for (size_t post = 0; post < 20; post += 3) {
				char buf[64];
				size_t n = pre + cases[i].n + post;
				memset(buf, 'a', sizeof(buf));
				memcpy(buf + pre, cases[i].s, cases[i].n);
				bad = 999;
				if (hd_utf8_valid(buf, n, &bad) != cases[i].ok)
					fail_msg("case %zu after %zu bytes: "
						 "wrong verdict",
						 i, pre);
				if (!cases[i].ok && bad != pre + cases[i].bad)
					fail_msg("case %zu after %zu bytes: "
						 "offset %zu",
						 i, pre, bad);
			}
	}
	assert_int_equal(hd_utf8_valid("\xC3", 1, NULL), 0);
}

static void text(void **state)
{
	(void)state;
	EXPECT(hd_escape_text, "Hello <b>&\"\r\n", HD_OK, "Hello <b>&\"\r\n");
	EXPECT(hd_escape_text, "J\xC3\xB6rg", HD_OK, "J\xC3\xB6rg");
	EXPECT(hd_escape_text, "\xC0\xAF", HD_EUTF8, NULL);
	EXPECT(hd_escape_text, "\xED\xA0\x80", HD_EUTF8, NULL);
	EXPECT(hd_escape_text, "abc\xE2\x82", HD_EUTF8, NULL);
}

static void header(void **state)
{
	hd_buf b = HD_BUF_INIT;
	hd_error err;

	(void)state;
	EXPECT(hd_escape_header, "Invoice 42\tdue", HD_OK, "Invoice 42\tdue");
	EXPECT(hd_escape_header, "J\xC3\xB6rg \xF0\x9F\x98\x80", HD_OK,
	       "J\xC3\xB6rg \xF0\x9F\x98\x80");
	EXPECT(hd_escape_header, "x\r\nBcc: victim@example.com", HD_EHEADER,
	       NULL);
	EXPECT(hd_escape_header, "x\nBcc: victim@example.com", HD_EHEADER,
	       NULL);
	EXPECT(hd_escape_header, "x\rBcc: victim@example.com", HD_EHEADER,
	       NULL);
	EXPECT(hd_escape_header, "\r", HD_EHEADER, NULL);
	EXPECT(hd_escape_header, "a\0b", HD_EHEADER, NULL);
	EXPECT(hd_escape_header, "a\x01z", HD_EHEADER, NULL);
	EXPECT(hd_escape_header, "a\x1B[31m", HD_EHEADER, NULL);
	EXPECT(hd_escape_header, "a\x7F", HD_EHEADER, NULL);
	EXPECT(hd_escape_header, "caf\xC3", HD_EUTF8, NULL);
	EXPECT(hd_escape_header, "\xE0\x80\xAF", HD_EUTF8, NULL);

	hd_error_clear(&err);
	assert_int_equal(hd_escape_header(&b, "a\r\nb", 4, &err), HD_EHEADER);
	assert_string_equal(err.msg, "line break in header value");
	/* a CR or LF is named even when another control comes first */
	assert_int_equal(hd_escape_header(&b, "\x01\n", 2, &err), HD_EHEADER);
	assert_string_equal(err.msg, "line break in header value");
	assert_int_equal(hd_escape_header(&b, "\x01", 1, NULL), HD_EHEADER);
	hd_buf_free(&b);

	EXPECT(hd_escape_raw_header, "anything \x01 \xFF goes", HD_OK,
	       "anything \x01 \xFF goes");
	EXPECT(hd_escape_raw_header, "a\r\nX: y", HD_EHEADER, NULL);
	EXPECT(hd_escape_raw_header, "a\nX: y", HD_EHEADER, NULL);
	EXPECT(hd_escape_raw_header, "a\r", HD_EHEADER, NULL);
	EXPECT(hd_escape_raw_header, "a\0b", HD_EHEADER, NULL);
}

/* VERP: every output is dot-atom text, and decodes back to the input. */
static void local_part(void **state)
{
	static const char *const inputs[] = {
	    "ann@example.com",
	    "o'brien+tag@x.org",
	    ".lead",
	    "trail.",
	    "a..b",
	    "a.b",
	    "Zoë",
	    "",
	    "x=y",
	    "1+1",
	};

	(void)state;
	EXPECT(hd_escape_local_part, "ann@example.com", HD_OK,
	       "ann=example.com");
	EXPECT(hd_escape_local_part, "o'brien+tag@x.org", HD_OK,
	       "o+27brien+2Btag=x.org");
	EXPECT(hd_escape_local_part, ".a..b.", HD_OK, "+2Ea+2E+2Eb+2E");
	EXPECT(hd_escape_local_part, "x=y", HD_OK, "x+3Dy");
	EXPECT(hd_escape_local_part, "\r\n<>,\"", HD_OK, "+0D+0A+3C+3E+2C+22");
	EXPECT(hd_escape_local_part, "Z\xC3\xBC", HD_OK, "Z+C3+BC");
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		hd_buf b = HD_BUF_INIT, d = HD_BUF_INIT;
		assert_int_equal(hd_escape_local_part(&b, inputs[i],
						      strlen(inputs[i]), NULL),
				 HD_OK);
		for (size_t k = 0; k < b.len; k++) {
			char c = b.data[k];
			/* dot-atom: no leading, trailing or double dot */
			assert_true(c != '.' || (k > 0 && k + 1 < b.len &&
						 b.data[k - 1] != '.' &&
						 b.data[k + 1] != '.'));
			if (c == '=') {
				hd_buf_putc(&d, '@');
			} else if (c == '+') {
				char hex[3] = {b.data[k + 1], b.data[k + 2], 0};
				hd_buf_putc(&d, (char)strtol(hex, NULL, 16));
				k += 2;
			} else {
				hd_buf_putc(&d, c);
			}
		}
		assert_string_equal(d.data ? d.data : "", inputs[i]);
		hd_buf_free(&b);
		hd_buf_free(&d);
	}
}

static void url(void **state)
{
	(void)state;
	EXPECT(hd_escape_url, "AZaz09-._~", HD_OK, "AZaz09-._~");
	EXPECT(hd_escape_url, "a&b=c", HD_OK, "a%26b%3Dc");
	EXPECT(hd_escape_url, "x#frag", HD_OK, "x%23frag");
	EXPECT(hd_escape_url, "x?q=1", HD_OK, "x%3Fq%3D1");
	EXPECT(hd_escape_url, "../../admin", HD_OK, "..%2F..%2Fadmin");
	EXPECT(hd_escape_url, "..", HD_OK, "..");
	EXPECT(hd_escape_url, "a b", HD_OK, "a%20b");
	EXPECT(hd_escape_url, "100%", HD_OK, "100%25");
	EXPECT(hd_escape_url, "1+1", HD_OK, "1%2B1");
	EXPECT(hd_escape_url, "user@host:80/p;x", HD_OK,
	       "user%40host%3A80%2Fp%3Bx");
	EXPECT(hd_escape_url, "\r\n\0\x7F", HD_OK, "%0D%0A%00%7F");
	EXPECT(hd_escape_url, "Z\xC3\xBCrich", HD_OK, "Z%C3%BCrich");
	/* bytes in, bytes out: not UTF-8 is still encoded, never refused */
	EXPECT(hd_escape_url, "\xFF\xC0", HD_OK, "%FF%C0");
	EXPECT(hd_escape_url, "", HD_OK, "");

	EXPECT(hd_escape_form, "a b", HD_OK, "a+b");
	EXPECT(hd_escape_form, "1+1=2 & 3", HD_OK, "1%2B1%3D2+%26+3");
	EXPECT(hd_escape_form, "x#y?z/..", HD_OK, "x%23y%3Fz%2F..");
	EXPECT(hd_escape_form, "50% off", HD_OK, "50%25+off");
	EXPECT(hd_escape_form, "AZaz09-._~", HD_OK, "AZaz09-._~");
	EXPECT(hd_escape_form, "line\r\nbreak", HD_OK, "line%0D%0Abreak");
	EXPECT(hd_escape_form, "caf\xC3\xA9", HD_OK, "caf%C3%A9");
}

/* Escapes s[0..n) as JSON, embeds it in {"x":"..."} and checks that
 * jansson reads back exactly s. */
static void json_round_trip(const char *s, size_t n)
{
	hd_buf b = HD_BUF_INIT;
	json_error_t jerr;
	json_t *doc, *x;

	assert_int_equal(hd_buf_puts(&b, "{\"x\":\""), HD_OK);
	assert_int_equal(hd_escape_json(&b, s, n, NULL), HD_OK);
	assert_int_equal(hd_buf_puts(&b, "\"}"), HD_OK);
	doc = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &jerr);
	if (!doc)
		fail_msg("jansson: %s in %s", jerr.text, b.data);
	x = json_object_get(doc, "x");
	assert_non_null(x);
	assert_int_equal(json_string_length(x), n);
	assert_memory_equal(json_string_value(x), s, n);
	json_decref(doc);
	hd_buf_free(&b);
}

#define JSON_RT(lit) json_round_trip(lit, sizeof(lit) - 1)

static void json(void **state)
{
	hd_buf b = HD_BUF_INIT;
	hd_error err;
	char all[128];
	size_t i;

	(void)state;
	EXPECT(hd_escape_json, "plain text", HD_OK, "plain text");
	EXPECT(hd_escape_json, "say \"hi\" \\ bye", HD_OK,
	       "say \\\"hi\\\" \\\\ bye");
	EXPECT(hd_escape_json, "\b\f\n\r\t", HD_OK, "\\b\\f\\n\\r\\t");
	EXPECT(hd_escape_json, "\x01\x1F\x7F", HD_OK, "\\u0001\\u001f\\u007f");
	EXPECT(hd_escape_json, "a\0b", HD_OK, "a\\u0000b");
	EXPECT(hd_escape_json,
	       "a\xE2\x80\xA8"
	       "b\xE2\x80\xA9",
	       HD_OK, "a\\u2028b\\u2029");
	/* other characters from the same block go as they are */
	EXPECT(hd_escape_json, "\xE2\x80\xA6\xE2\x82\xAC", HD_OK,
	       "\xE2\x80\xA6\xE2\x82\xAC");
	EXPECT(hd_escape_json, "</script>", HD_OK, "</script>");
	EXPECT(hd_escape_json, "\xC0\xAF", HD_EUTF8, NULL);	  /* overlong */
	EXPECT(hd_escape_json, "\xED\xA0\x80", HD_EUTF8, NULL);	  /* surrog. */
	EXPECT(hd_escape_json, "ok\xF0\x9F\x98", HD_EUTF8, NULL); /* cut */

	hd_error_clear(&err);
	assert_int_equal(hd_escape_json(&b, "abc\xFFz", 5, &err), HD_EUTF8);
	assert_string_equal(err.msg, "invalid UTF-8 at byte 3");
	assert_int_equal(b.len, 0);
	hd_buf_free(&b);

	JSON_RT("\"},\"admin\":true,\"y\":{\"");
	JSON_RT("back\\slash\\\\ \\u0041 \\");
	JSON_RT("line\nbreak\r\n\ttab \b \f end");
	JSON_RT("nul \0 inside");
	JSON_RT("\x01\x02\x03\x1E\x1F\x7F");
	JSON_RT("js \xE2\x80\xA8 ls \xE2\x80\xA9 ps");
	JSON_RT("J\xC3\xB6rg \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80");
	for (i = 0; i < sizeof(all); i++)
		all[i] = (char)i;
	json_round_trip(all, sizeof(all));
}

static void html(void **state)
{
	(void)state;
	EXPECT(hd_escape_html, "<script>alert(\"x\")</script>", HD_OK,
	       "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
	EXPECT(hd_escape_html, "Tom & Jerry's", HD_OK, "Tom &amp; Jerry&#39;s");
	EXPECT(hd_escape_html, "\" onmouseover='x'", HD_OK,
	       "&quot; onmouseover=&#39;x&#39;");
	EXPECT(hd_escape_html, "&amp;", HD_OK, "&amp;amp;");
	EXPECT(hd_escape_html, "J\xC3\xB6rg", HD_OK, "J\xC3\xB6rg");
	EXPECT(hd_escape_html, "<\xC0\xBC>", HD_EUTF8, NULL);
	EXPECT(hd_escape_html, "\xED\xA0\x80", HD_EUTF8, NULL);
}

static void content_type_table(void **state)
{
	(void)state;
	assert_ptr_equal(hd_escape_for_content_type("application/json"),
			 hd_escape_json);
	assert_ptr_equal(
	    hd_escape_for_content_type("Application/JSON; charset=utf-8"),
	    hd_escape_json);
	assert_ptr_equal(hd_escape_for_content_type("application/problem+json"),
			 hd_escape_json);
	assert_ptr_equal(
	    hd_escape_for_content_type(" application/vnd.api+JSON ;x=1"),
	    hd_escape_json);
	assert_ptr_equal(
	    hd_escape_for_content_type("application/x-www-form-urlencoded"),
	    hd_escape_form);
	assert_ptr_equal(
	    hd_escape_for_content_type("application/x-www-form-urlencoded;"
				       "charset=UTF-8"),
	    hd_escape_form);
	assert_ptr_equal(hd_escape_for_content_type("text/html"),
			 hd_escape_html);
	assert_ptr_equal(
	    hd_escape_for_content_type("TEXT/HTML; charset=\"utf-8\""),
	    hd_escape_html);
	assert_ptr_equal(hd_escape_for_content_type("text/plain"),
			 hd_escape_text);
	assert_ptr_equal(hd_escape_for_content_type(NULL), hd_escape_text);
	assert_ptr_equal(hd_escape_for_content_type(""), hd_escape_text);
	/* look-alikes are not the real thing */
	assert_ptr_equal(hd_escape_for_content_type("application/jsonx"),
			 hd_escape_text);
	assert_ptr_equal(hd_escape_for_content_type("+json"), hd_escape_text);
	assert_ptr_equal(hd_escape_for_content_type("text/htmlx"),
			 hd_escape_text);
	assert_ptr_equal(hd_escape_for_content_type("application/xml"),
			 hd_escape_text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(utf8_strict), cmocka_unit_test(text),
	    cmocka_unit_test(header),	   cmocka_unit_test(url),
	    cmocka_unit_test(local_part),  cmocka_unit_test(json),
	    cmocka_unit_test(html),	   cmocka_unit_test(content_type_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

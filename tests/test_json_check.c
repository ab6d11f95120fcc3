/* test_json_check.c — the JSON body scanner agrees with jansson, and
 * what it builds is jansson's tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "escape.h"
#include "json_check.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int corpus_missing;

static const struct {
	const char *text;
	size_t len; /* 0: strlen */
	enum hd_json_verdict want;
} cases[] = {
    /* what templates render */
    {"{\"a\": \"b\", \"n\": 5, \"l\": [1, 2.5, true, false, null]}", 0,
     HD_JSON_VALID},
    {" \t\r\n[]\n", 0, HD_JSON_VALID},
    {"{}", 0, HD_JSON_VALID},
    {"\"only a string\"", 0, HD_JSON_VALID},
    {"-0", 0, HD_JSON_VALID},
    {"123456789012345678", 0, HD_JSON_VALID},
    {"{\"k\": \"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9\"}", 0,
     HD_JSON_VALID},
    {"\"\\ud83c\\udf89 Empf\xc3\xa4nger\"", 0, HD_JSON_VALID},
    {"\"\\u0000\"", 0, HD_JSON_VALID}, /* NUL in a value: allowed */
    {"[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", 0, HD_JSON_VALID},
    /* a value put outside quotes, and other mistakes */
    {"{\"name\": Ann Lee}", 0, HD_JSON_INVALID},
    {"{\"a\": 1,}", 0, HD_JSON_INVALID},
    {"[1 2]", 0, HD_JSON_INVALID},
    {"{\"a\" 1}", 0, HD_JSON_INVALID},
    {"{a: 1}", 0, HD_JSON_INVALID},
    {"[1]]", 0, HD_JSON_INVALID},
    {"[1", 0, HD_JSON_INVALID},
    {"", 0, HD_JSON_INVALID},
    {"  ", 0, HD_JSON_INVALID},
    {"01", 0, HD_JSON_INVALID},
    {"1.", 0, HD_JSON_INVALID},
    {".5", 0, HD_JSON_INVALID},
    {"+1", 0, HD_JSON_INVALID},
    {"-", 0, HD_JSON_INVALID},
    {"1e", 0, HD_JSON_INVALID},
    {"tru", 0, HD_JSON_INVALID},
    {"truex", 0, HD_JSON_INVALID},
    {"\"tab\tinside\"", 0, HD_JSON_INVALID},
    {"\"\\x\"", 0, HD_JSON_INVALID},
    {"\"\\u12\"", 0, HD_JSON_INVALID},
    {"\"\\ud800\"", 0, HD_JSON_INVALID},
    {"\"\\udc00\\ud800\"", 0, HD_JSON_INVALID},
    {"\"\\ud800\\u0041\"", 0, HD_JSON_INVALID},
    {"\"open", 0, HD_JSON_INVALID},
    {"{} {}", 0, HD_JSON_INVALID},
    {"'single'", 0, HD_JSON_INVALID},
    /* jansson's own limits: it decides */
    {"1234567890123456789012", 0, HD_JSON_UNSURE},
    {"1e999", 0, HD_JSON_UNSURE},
    {"{\"k\\u0000\": 1}", 0, HD_JSON_UNSURE},
    {"\"caf\xe9\"", 0, HD_JSON_UNSURE}, /* Latin-1, not UTF-8 */
    {"{}\0", 3, HD_JSON_UNSURE},
};

static int jansson_accepts(const char *s, size_t n)
{
	json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

	json_decref(v);
	return v != NULL;
}

/* hd__json_load on an exact copy of the text (ASan sees a byte read past
 * its end): where it builds, jansson builds the same tree, kinds and key
 * order included; where it says invalid, jansson refuses.  Returns its
 * verdict. */
static enum hd_json_verdict load_as_jansson(const char *what, const char *s,
					    size_t n, int flags)
{
	char *copy = malloc(n ? n : 1);
	json_t *ours = NULL, *theirs;
	enum hd_json_verdict v;

	assert_non_null(copy);
	memcpy(copy, s, n);
	v = hd__json_load(copy, n, flags, &ours);
	theirs = json_loadb(copy, n, flags, NULL);
	if (v == HD_JSON_VALID) {
		char *a, *b;
		if (!theirs)
			fail_msg("%s: built, but jansson refuses it", what);
		a = json_dumps(ours, JSON_COMPACT | JSON_ENCODE_ANY);
		b = json_dumps(theirs, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!json_equal(ours, theirs) || !a || !b || strcmp(a, b))
			fail_msg("%s: built %s, jansson %s", what, a ? a : "?",
				 b ? b : "?");
		free(a);
		free(b);
	} else {
		assert_null(ours);
		if (v == HD_JSON_INVALID && theirs)
			fail_msg("%s: invalid, but jansson accepts it", what);
	}
	json_decref(ours);
	json_decref(theirs);
	free(copy);
	return v;
}

#define RECORD_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		size_t n = cases[i].len ? cases[i].len : strlen(cases[i].text);
		enum hd_json_verdict v = hd__json_check(cases[i].text, n);

		if (v != cases[i].want)
			fail_msg("case %zu '%s': got %d, want %d", i,
				 cases[i].text, v, cases[i].want);
		/* where the scanner is sure, jansson agrees */
		if (v != HD_JSON_UNSURE &&
		    jansson_accepts(cases[i].text, n) != (v == HD_JSON_VALID))
			fail_msg("case %zu '%s': jansson disagrees", i,
				 cases[i].text);
		/* what the check finds valid is built */
		if (load_as_jansson(cases[i].text, cases[i].text, n,
				    RECORD_FLAGS) != v)
			fail_msg("case %zu '%s': load and check disagree", i,
				 cases[i].text);
	}
}

/* The builder on what records hold, and where it leaves jansson to say
 * no. */
static void test_load(void **state)
{
	static const char *built[] = {
	    "{\"email\": \"ann@example.com\", \"n\": 5, \"trial\": false, "
	    "\"company\": {\"name\": \"A & Co\", \"seats\": 2}, \"x\": null}",
	    "{\"k\\u00e9y\": \"v\\\"q\\\\b\\/s\\b\\f\\n\\r\\t\"}",
	    "{\"\\ud83c\\udf89\": \"\\u20ac \\u00e9 \\u0041 \\u07ff \\uffff\"}",
	    "[\"\xf0\x9f\x8e\x89 Empf\xc3\xa4nger\", \"pre\\nfix\", "
	    "\"\\u0000\"]",
	    "[-0, 0, -1, 123456789012345678, -123456789012345678, 0.5, -0.25, "
	    "3.14159265358979]",
	    "[[], {}, [[{}]], {\"a\": [1, {\"b\": []}]}]",
	    "  \r\n\t{ \"spaced\" :\t[ 1 ,2 ] , \"z\" : \"\" }  \n",
	    "42",
	    "-7.5",
	    "\"top\"",
	    "true",
	    "null",
	    "{\"z\": 1, \"a\": 2, \"m\": 3}",
	};
	json_t *v;

	(void)state;
	for (size_t i = 0; i < sizeof(built) / sizeof(*built); i++)
		if (load_as_jansson(built[i], built[i], strlen(built[i]),
				    RECORD_FLAGS) != HD_JSON_VALID)
			fail_msg("'%s' was not built", built[i]);
	/* a duplicate key: jansson refuses it under the flag, and without
	 * it the later value wins in the earlier place, as in jansson */
	assert_int_equal(load_as_jansson("dup",
					 "{\"a\": 1, \"b\": 2, \"a\": 3}", 24,
					 RECORD_FLAGS),
			 HD_JSON_UNSURE);
	assert_int_equal(load_as_jansson("dup",
					 "{\"a\": 1, \"b\": 2, \"a\": 3}", 24,
					 JSON_DECODE_ANY | JSON_ALLOW_NUL),
			 HD_JSON_VALID);
	assert_int_equal(load_as_jansson("nested dup",
					 "[{\"a\": {\"c\": 1, \"c\": 2}}]", 25,
					 RECORD_FLAGS),
			 HD_JSON_UNSURE);
	/* flags the check does not follow are jansson's to apply */
	assert_int_equal(load_as_jansson("no ANY", "5", 1, JSON_ALLOW_NUL),
			 HD_JSON_UNSURE);
	assert_int_equal(
	    load_as_jansson("no NUL", "[\"\\u0000\"]", 10, JSON_DECODE_ANY),
	    HD_JSON_UNSURE);
	assert_int_equal(hd__json_load("[]", 2, JSON_ALLOW_NUL, &v),
			 HD_JSON_VALID);
	json_decref(v);
	assert_int_equal(
	    hd__json_load("[]", 2, JSON_ALLOW_NUL | JSON_DISABLE_EOF_CHECK, &v),
	    HD_JSON_UNSURE);
	assert_null(v);
	/* invalid and unsure texts build nothing */
	assert_int_equal(hd__json_load("{\"a\": }", 7, RECORD_FLAGS, &v),
			 HD_JSON_INVALID);
	assert_null(v);
	assert_int_equal(hd__json_load("1e5", 3, RECORD_FLAGS, &v),
			 HD_JSON_UNSURE);
	assert_null(v);
}

/* Nesting deeper than the scanner goes is jansson's to judge, and never
 * walks off the stack. */
static void test_deep(void **state)
{
	enum { N = 100000 };
	static char deep[2 * N];

	(void)state;
	memset(deep, '[', N);
	memset(deep + N, ']', N);
	assert_int_equal(hd__json_check(deep, sizeof(deep)), HD_JSON_UNSURE);
	assert_int_equal(hd__json_check(deep, N), HD_JSON_UNSURE);
	/* a syntax error before the limit is certain */
	deep[10] = '}';
	assert_int_equal(hd__json_check(deep, sizeof(deep)), HD_JSON_INVALID);
}

/* JSONTestSuite's parsing cases (read in place from HERALD_TESTDATA):
 * wherever the scanner is sure, jansson agrees, and the scanner is sure
 * of every y_ and n_ case but a few. */
static void test_json_test_suite(void **state)
{
	const char *td = getenv("HERALD_TESTDATA");
	char dir[1024], path[2048];
	size_t files = 0, sure = 0, built = 0;
	struct dirent *d;
	DIR *dp;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/json-test-suite/test_parsing",
		 td && *td ? td : "../shared/testdata");
	if (!(dp = opendir(dir))) {
		corpus_missing = 1;
		fprintf(stderr, "SKIPPED: %s not found (set HERALD_TESTDATA)\n",
			dir);
		return;
	}
	while ((d = readdir(dp)) != NULL) {
		FILE *f;
		char buf[1 << 16];
		size_t n;
		enum hd_json_verdict v;

		if (!strstr(d->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		assert_non_null(f = fopen(path, "rb"));
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (n == sizeof(buf))
			continue; /* the depth bombs: test_deep has them */
		files++;
		v = hd__json_check(buf, n);
		if (v == HD_JSON_UNSURE)
			continue;
		if (d->d_name[0] != 'i')
			sure++;
		if (jansson_accepts(buf, n) != (v == HD_JSON_VALID))
			fail_msg("%s: the scanner says %s, jansson not",
				 d->d_name,
				 v == HD_JSON_VALID ? "valid" : "invalid");
		/* built as jansson builds it, with either key rule */
		if (v == HD_JSON_VALID) {
			enum hd_json_verdict a, b;
			a = load_as_jansson(d->d_name, buf, n, RECORD_FLAGS);
			b = load_as_jansson(d->d_name, buf, n,
					    JSON_DECODE_ANY | JSON_ALLOW_NUL);
			built += a == HD_JSON_VALID;
			if (b != HD_JSON_VALID)
				fail_msg("%s: valid, but not built", d->d_name);
		}
	}
	closedir(dp);
	assert_true(files > 300);
	assert_true(sure > 250);
	assert_true(built > 80);
}

/* Offsets where a value may go in a JSON text, each said by where it is. */
static void test_marks(void **state)
{
	static const struct {
		const char *text;
		size_t at;
		enum hd_json_verdict want;
	} one[] = {
	    {"{\"a\": \"x\"}", 7, HD_JSON_VALID},    /* before the x */
	    {"{\"a\": \"x\"}", 8, HD_JSON_VALID},    /* before the quote */
	    {"{\"a\": \"\"}", 7, HD_JSON_VALID},     /* an empty string */
	    {"[\"x\", \"y\"]", 7, HD_JSON_VALID},    /* in an array */
	    {"{\"a\": \"x\"}", 6, HD_JSON_UNSURE},   /* before the string */
	    {"{\"a\": \"x\"}", 9, HD_JSON_UNSURE},   /* after it */
	    {"{\"a\": \"x\"}", 2, HD_JSON_UNSURE},   /* in a key */
	    {"{\"a\": \"x\"}", 0, HD_JSON_UNSURE},   /* outside everything */
	    {"{\"a\": 5}", 6, HD_JSON_UNSURE},	     /* by a number */
	    {"{\"a\": \"\\n\"}", 8, HD_JSON_UNSURE}, /* inside an escape */
	    {"{\"a\": \"\\u00e9\"}", 10, HD_JSON_UNSURE},
	    {"{\"a\": \"\xc3\xa9\"}", 8,
	     HD_JSON_UNSURE}, /* inside a character */
	    {"{\"a\": \"\xc3\xa9\"}", 9, HD_JSON_VALID},
	    {"{\"a\": \"x\",}", 7, HD_JSON_UNSURE}, /* the text is not JSON */
	};
	/* what a row may hold, escaped as hd_escape_json escapes */
	static const char *values[] = {
	    "",		  "\"",		  "\\",		  "\"}, \"b\": [",
	    "\n\r\t\b\f", "\x01\x1f\x7f", "\xe2\x80\xa8", "\xf0\x9f\x8e\x89",
	    "\\u0000",	  "x\\",
	};
	static const char nul[] = "a\0b";
	static const char *texts[] = {
	    "{\"a\": \"x\", \"b\": [\"\", \"\\\"\\\\\", 1], \"\xc3\xa9\": "
	    "\"\xc3\xa9\\n\\ud83c\\udf89\"}",
	    "\"\"",
	    "[\"a\", {\"k\": \"v\"}]",
	};
	size_t at[2] = {7, 8};
	size_t valid = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		if (hd__json_check_marks(one[i].text, strlen(one[i].text),
					 &one[i].at, 1) != one[i].want)
			fail_msg("'%s' at %zu: not as expected", one[i].text,
				 one[i].at);
	/* none, and two at once */
	assert_int_equal(hd__json_check_marks("{}", 2, NULL, 0), HD_JSON_VALID);
	assert_int_equal(hd__json_check_marks("{\"a\": \"x\"}", 10, at, 2),
			 HD_JSON_VALID);
	at[1] = 2;
	assert_int_equal(hd__json_check_marks("{\"a\": \"x\"}", 10, at, 2),
			 HD_JSON_UNSURE);
	/* wherever it says valid, every value put there makes JSON that
	 * jansson accepts: each offset of each text, each value */
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		size_t n = strlen(texts[t]);
		for (size_t a = 0; a <= n; a++) {
			if (hd__json_check_marks(texts[t], n, &a, 1) !=
			    HD_JSON_VALID)
				continue;
			valid++;
			for (size_t v = 0;
			     v <= sizeof(values) / sizeof(values[0]); v++) {
				hd_buf b = HD_BUF_INIT;
				const char *val =
				    v < sizeof(values) / sizeof(values[0])
					? values[v]
					: nul;
				size_t vn =
				    v < sizeof(values) / sizeof(values[0])
					? strlen(val)
					: sizeof(nul) - 1;
				assert_int_equal(hd_buf_append(&b, texts[t], a),
						 HD_OK);
				assert_int_equal(
				    hd_escape_json(&b, val, vn, NULL), HD_OK);
				assert_int_equal(
				    hd_buf_append(&b, texts[t] + a, n - a),
				    HD_OK);
				if (!jansson_accepts(b.data, b.len))
					fail_msg("'%s' with a value at %zu: "
						 "not JSON",
						 b.data, a);
				hd_buf_free(&b);
			}
		}
	}
	/* text 1: "x" 2, "" 1, the escapes 3, the accents and emoji 4; text
	 * 2: 1; text 3: 2 and 2 (no key) */
	assert_int_equal(valid, 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_deep),
	    cmocka_unit_test(test_marks),
	    cmocka_unit_test(test_json_test_suite),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	return rc ? rc : corpus_missing ? 77 : 0;
}

/*
 * fuzz_json_check.c — the scanner that checks a rendered JSON body, and
 * the builder that reads records with it (lib/json_check.c), against
 * jansson, which they stand in for.
 *
 * Input: any bytes, taken as a whole body or record.
 * Promises checked: "valid" only where jansson (with the flags the body
 * check uses) accepts the text, "invalid" only where jansson refuses it;
 * the same answer twice; and where the builder builds, with either key
 * rule, jansson builds the same tree (kinds, values, key order).  And
 * wherever hd__json_check_marks says a value may go, a value that breaks
 * what it can (a quote, a backslash, a NUL, a line break, a bracket) put
 * there, escaped, leaves JSON that jansson accepts.
 */
#include "buf.h"
#include "escape.h"
#include "fuzz.h"
#include "json_check.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void built_as_jansson(const char *s, size_t size, int flags)
{
	json_t *ours = NULL, *theirs;
	enum hd_json_verdict v = hd__json_load(s, size, flags, &ours);
	char *a, *b;

	theirs = json_loadb(s, size, flags, NULL);
	if (v != HD_JSON_VALID) {
		FUZZ_ASSERT(!ours, "nothing built, but a tree handed out");
		FUZZ_ASSERT(v == HD_JSON_UNSURE || !theirs,
			    "the builder says invalid, jansson accepts it");
		json_decref(theirs);
		return;
	}
	FUZZ_ASSERT(theirs, "built, but jansson refuses %zu bytes", size);
	a = json_dumps(ours, JSON_COMPACT | JSON_ENCODE_ANY);
	b = json_dumps(theirs, JSON_COMPACT | JSON_ENCODE_ANY);
	FUZZ_ASSERT(json_equal(ours, theirs) && a && b && !strcmp(a, b),
		    "built %s, jansson %s", a ? a : "?", b ? b : "?");
	free(a);
	free(b);
	json_decref(ours);
	json_decref(theirs);
}

/* Every offset of a short text (each is a scan: quadratic). */
static void marks_hold(const char *s, size_t size)
{
	static const char nasty[] = "\"\\\0\n}]\xe2\x80\xa8,\"";

	if (size > 512)
		return;
	for (size_t at = 0; at <= size; at++) {
		hd_buf b = HD_BUF_INIT;
		json_t *j;

		if (hd__json_check_marks(s, size, &at, 1) != HD_JSON_VALID)
			continue;
		FUZZ_ASSERT(hd__json_check(s, size) == HD_JSON_VALID,
			    "a place for a value in a text not valid");
		FUZZ_ASSERT(hd_buf_append(&b, s, at) == HD_OK &&
				hd_escape_json(&b, nasty, sizeof(nasty) - 1,
					       NULL) == HD_OK &&
				hd_buf_append(&b, s + at, size - at) == HD_OK,
			    "out of memory");
		j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
			       NULL);
		FUZZ_ASSERT(j, "a value at %zu of %zu bytes breaks the JSON",
			    at, size);
		json_decref(j);
		hd_buf_free(&b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	enum hd_json_verdict v = hd__json_check(s, size);
	json_error_t je;
	json_t *j;

	if (v != HD_JSON_UNSURE) {
		j = json_loadb(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		FUZZ_ASSERT((v == HD_JSON_VALID) == (j != NULL),
			    "the scanner says %s, jansson %s (%s) for %zu "
			    "bytes",
			    v == HD_JSON_VALID ? "valid" : "invalid",
			    j ? "accepts it" : "refuses it", j ? "" : je.text,
			    size);
		json_decref(j);
		FUZZ_ASSERT(hd__json_check(s, size) == v,
			    "the scanner changed its mind");
	}
	marks_hold(s, size);
	built_as_jansson(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL);
	built_as_jansson(
	    s, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL);
	return 0;
}

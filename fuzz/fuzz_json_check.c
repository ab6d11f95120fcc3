/*
 * fuzz_json_check.c — the scanner that checks a rendered JSON body
 * (lib/json_check.c), against jansson, which it stands in for.
 *
 * Input: any bytes, taken as a whole body.
 * Promises checked: "valid" only where jansson (with the flags the body
 * check uses) accepts the text, "invalid" only where jansson refuses it;
 * the same answer twice.
 */
#include "fuzz.h"
#include "json_check.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	enum hd_json_verdict v = hd__json_check(s, size);
	json_error_t je;
	json_t *j;

	if (v == HD_JSON_UNSURE)
		return 0;
	j = json_loadb(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	FUZZ_ASSERT((v == HD_JSON_VALID) == (j != NULL),
		    "the scanner says %s, jansson %s (%s) for %zu bytes",
		    v == HD_JSON_VALID ? "valid" : "invalid",
		    j ? "accepts it" : "refuses it", j ? "" : je.text, size);
	json_decref(j);
	FUZZ_ASSERT(hd__json_check(s, size) == v,
		    "the scanner changed its mind");
	return 0;
}

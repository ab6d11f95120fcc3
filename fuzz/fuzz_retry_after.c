/*
 * fuzz_retry_after.c — the Retry-After / HTTP-date parser
 * (lib/retry_after.c).
 *
 * Input: the header value (cut at a NUL, as the transport's copy is).
 * Promises checked: -1 or a number of seconds in [0, HD_RETRY_AFTER_CAP];
 * for plain digits, the number itself, clamped; the same answer twice.
 */
#include "fuzz.h"
#include "retry_after.h"

#include <stdlib.h>
#include <string.h>

#define NOW ((time_t)1795787110) /* a fixed "now": answers are stable */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size + 1);
	double r;

	if (!v)
		fuzz_fail("out of memory");
	if (size)
		memcpy(v, data, size);
	v[size] = '\0';
	r = hd__retry_after_parse(v, NOW);
	FUZZ_ASSERT(r == -1 || (r >= 0 && r <= HD_RETRY_AFTER_CAP),
		    "Retry-After '%s' gave %g", v, r);
	if (v[0] && strspn(v, "0123456789") == strlen(v)) {
		double want = 0;
		for (const char *p = v; *p && want <= HD_RETRY_AFTER_CAP; p++)
			want = want * 10 + (*p - '0');
		if (want > HD_RETRY_AFTER_CAP)
			want = HD_RETRY_AFTER_CAP;
		FUZZ_ASSERT(r == want, "delta-seconds '%s' gave %g", v, r);
	}
	FUZZ_ASSERT(hd__retry_after_parse(v, NOW) == r,
		    "Retry-After '%s' changed its mind", v);
	free(v);
	return 0;
}

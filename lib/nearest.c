/* nearest.c — "did you mean": the name nearest to a mistyped one. */
#include "herald.h"

#include <stdint.h>
#include <string.h>

#define NAME_MAX_BYTES 63 /* longer names are never "near" */

/* Optimal string alignment distance (Levenshtein plus transpositions of
 * two neighbours), for names of at most NAME_MAX_BYTES bytes. */
static size_t distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	size_t d[NAME_MAX_BYTES + 1][NAME_MAX_BYTES + 1];

	if (n > NAME_MAX_BYTES || m > NAME_MAX_BYTES)
		return SIZE_MAX;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

/* ASCII lower case of s into out (NAME_MAX_BYTES + 1 bytes); 0 when s
 * is too long to compare. */
static int folded(const char *s, char *out)
{
	size_t n = strlen(s);

	if (n > NAME_MAX_BYTES)
		return 0;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a'
							   : s[i]);
	return 1;
}

const char *hd_nearest(const char *typed, size_t count,
		       const char *(*get)(void *ctx, size_t i), void *ctx)
{
	size_t len = typed ? strlen(typed) : 0, best = SIZE_MAX, limit;
	const char *found = NULL, *prefixed = NULL, *same_case = NULL;
	char t[NAME_MAX_BYTES + 1], c[NAME_MAX_BYTES + 1];
	int prefixes = 0, have_t;

	if (!typed || !get)
		return NULL;
	have_t = folded(typed, t);
	limit = len / 3;
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < count; i++) {
		const char *cand = get(ctx, i);
		size_t d;

		if (!cand || !strcmp(cand, typed))
			continue;
		/* a difference of case alone is the nearest there is */
		if (have_t && !same_case && folded(cand, c) && !strcmp(c, t))
			same_case = cand;
		d = distance(typed, cand);
		if (d < best) {
			best = d;
			found = cand;
		}
		if (len >= 2 && !strncmp(cand, typed, len)) {
			prefixed = cand;
			prefixes++;
		}
	}
	if (same_case)
		return same_case;
	if (found && best <= limit)
		return found;
	return prefixes == 1 ? prefixed : NULL;
}

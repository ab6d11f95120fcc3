/* shard.c — a row's shard, and which shard this process takes. */
#include "shard.h"

#include "dedupe.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shards at most: a count beyond is a typo, not a cluster. */
#define MAX_SHARDS 1000000L

long hd__shard_of(const char *id, long row, long n)
{
	if (n <= 1)
		return 0;
	if (!id)
		return (row > 0 ? row - 1 : 0) % n;
	return (long)(hd_key_hash(id, strlen(id)) % (uint64_t)n);
}

/* A decimal number from 0 (no sign, no blanks); -1 when s is not one. */
static long number(const char *s)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > MAX_SHARDS * 1000)
		return -1;
	return v;
}

static hd_status bad(hd_error *err, const char *fmt, ...) HD_PRINTF(2, 3);
static hd_status bad(hd_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hd_error_vset(err, HD_EUSAGE, NULL, 0, 0, fmt, ap);
	va_end(ap);
	return HD_EUSAGE;
}

/* K and N make a shard; from says where they came from. */
static hd_status set(hd_shard *out, long k, long n, const char *what,
		     hd_error *err)
{
	if (n < 1 || n > MAX_SHARDS)
		return bad(err, "%s: the number of shards must be 1 to %ld",
			   what, MAX_SHARDS);
	if (k < 0 || k >= n)
		return bad(err,
			   "%s: shard %ld of %ld does not exist (K counts "
			   "from 0: 0 to %ld)",
			   what, k, n, n - 1);
	out->index = k;
	out->count = n;
	return HD_OK;
}

/* --shard K/N */
static hd_status from_spec(const char *spec, long count, hd_shard *out,
			   hd_error *err)
{
	const char *slash = strchr(spec, '/');
	char k_text[32];
	long k, n;

	if (!slash || (size_t)(slash - spec) >= sizeof(k_text))
		return bad(err,
			   "--shard takes K/N (shard K of N, K from 0: 0/4 "
			   "to 3/4), not '%.40s'",
			   spec);
	memcpy(k_text, spec, (size_t)(slash - spec));
	k_text[slash - spec] = '\0';
	k = number(k_text);
	n = number(slash + 1);
	if (k < 0 || n < 0)
		return bad(err,
			   "--shard takes K/N (shard K of N, K from 0: 0/4 "
			   "to 3/4), not '%.40s'",
			   spec);
	if (count && count != n)
		return bad(err, "--shard %.40s and --shard-count %ld disagree",
			   spec, count);
	snprintf(out->from, sizeof(out->from), "--shard %ld/%ld", k, n);
	return set(out, k, n, "--shard", err);
}

/* A Kubernetes indexed Job: the index from JOB_COMPLETION_INDEX, the
 * count from --shard-count or HERALD_SHARD_COUNT. */
static hd_status from_kubernetes(const char *index, long count,
				 char *(*env)(const char *), hd_shard *out,
				 hd_error *err)
{
	const char *c = env("HERALD_SHARD_COUNT");
	long k = number(index), n = count;

	if (k < 0)
		return bad(err, "JOB_COMPLETION_INDEX is '%.40s', not a number",
			   index);
	if (!n && c && *c && (n = number(c)) < 0)
		return bad(err, "HERALD_SHARD_COUNT is '%.40s', not a number",
			   c);
	if (!n)
		return bad(err,
			   "JOB_COMPLETION_INDEX=%ld is set (a Kubernetes "
			   "indexed Job), but not the number of shards: give "
			   "--shard-count N or set HERALD_SHARD_COUNT to the "
			   "Job's completions (or --shard 0/1 to take every "
			   "row)",
			   k);
	snprintf(out->from, sizeof(out->from),
		 "JOB_COMPLETION_INDEX=%ld of %ld (%s)", k, n,
		 count ? "--shard-count" : "HERALD_SHARD_COUNT");
	return set(out, k, n, "JOB_COMPLETION_INDEX", err);
}

/* A Slurm job array: shard (ID - MIN) / STEP of COUNT. */
static hd_status from_slurm(const char *id_text, long count,
			    char *(*env)(const char *), hd_shard *out,
			    hd_error *err)
{
	const char *min_text = env("SLURM_ARRAY_TASK_MIN");
	const char *max_text = env("SLURM_ARRAY_TASK_MAX");
	const char *step_text = env("SLURM_ARRAY_TASK_STEP");
	const char *count_text = env("SLURM_ARRAY_TASK_COUNT");
	long id = number(id_text), min = number(min_text),
	     n = number(count_text), step = 1, max = -1;

	if (id < 0 || min < 0 || n < 1)
		return bad(err,
			   "SLURM_ARRAY_TASK_ID is set, but SLURM_ARRAY_TASK_"
			   "ID, _MIN and _COUNT are not all numbers (%.20s, "
			   "%.20s, %.20s): give --shard K/N",
			   id_text, min_text ? min_text : "unset",
			   count_text ? count_text : "unset");
	if (step_text && *step_text && (step = number(step_text)) < 1)
		return bad(err, "SLURM_ARRAY_TASK_STEP is '%.20s', not a step",
			   step_text);
	if (max_text && *max_text)
		max = number(max_text);
	if (id < min || (id - min) % step != 0 ||
	    (max >= 0 && max != min + (n - 1) * step))
		return bad(err,
			   "the Slurm array (task %ld, %ld tasks from %ld, "
			   "step %ld, up to %ld) has gaps: its task ids "
			   "cannot be shards 0..%ld; give --shard K/N",
			   id, n, min, step, max, n - 1);
	if (count && count != n)
		return bad(err,
			   "--shard-count %ld and SLURM_ARRAY_TASK_COUNT %ld "
			   "disagree",
			   count, n);
	snprintf(out->from, sizeof(out->from),
		 "SLURM_ARRAY_TASK_ID=%ld (array %ld-%ld, step %ld)", id, min,
		 min + (n - 1) * step, step);
	return set(out, (id - min) / step, n, "SLURM_ARRAY_TASK_ID", err);
}

hd_status hd_shard_choose(const char *spec, long count,
			  char *(*env)(const char *name), hd_shard *out,
			  hd_error *err)
{
	const char *v;

	memset(out, 0, sizeof(*out));
	if (count < 0 || count > MAX_SHARDS)
		return bad(err, "--shard-count must be 1 to %ld", MAX_SHARDS);
	if (spec)
		return from_spec(spec, count, out, err);
	if ((v = env("JOB_COMPLETION_INDEX")) != NULL && *v)
		return from_kubernetes(v, count, env, out, err);
	if ((v = env("SLURM_ARRAY_TASK_ID")) != NULL && *v)
		return from_slurm(v, count, env, out, err);
	if (count)
		return bad(err, "--shard-count needs a shard index: --shard "
				"K/N, JOB_COMPLETION_INDEX or "
				"SLURM_ARRAY_TASK_ID");
	return HD_OK;
}

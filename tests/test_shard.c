/*
 * test_shard.c — the shard of a key, frozen, and where K/N come from.
 *
 * The hash vectors below were computed by the Python in README ("Shards"),
 * not by herald: if hd_key_hash changes, lists split differently on
 * machines running different versions, and these fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dedupe.h"
#include "shard.h"

#include <stdio.h>
#include <string.h>

static void the_hash_is_frozen(void **state)
{
	static const struct {
		const char *key;
		uint64_t hash;
		long of4, of7;
	} v[] = {
	    {"", 0xefd01f60ba992926ULL, 2, 1},
	    {"a", 0x82a2a958a9bece5bULL, 3, 1},
	    {"ann@example.com", 0xd3a1a0e711f0d522ULL, 2, 6},
	    {"bob@example.com, carol@example.org", 0x03d4438c10fea9bcULL, 0, 3},
	    {"user42@example.com", 0x88ca743f983c623cULL, 0, 1},
	    {"42", 0x810b196a56ee3cecULL, 0, 2},
	    {"{\"id\":1}", 0x3e2598ceda0dc80eULL, 2, 0},
	    {"Zo\xc3\xab@ex\xc3\xa4mple.com", 0xf6175cba7612de7bULL, 3, 6},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(hd_key_hash(v[i].key, strlen(v[i].key)),
				 v[i].hash);
		assert_int_equal(hd__shard_of(v[i].key, 1, 4), v[i].of4);
		assert_int_equal(hd__shard_of(v[i].key, 99, 7), v[i].of7);
		assert_int_equal(hd__shard_of(v[i].key, 1, 1), 0);
	}
}

static void rows_without_a_key_go_by_their_number(void **state)
{
	(void)state;
	assert_int_equal(hd__shard_of(NULL, 1, 3), 0);
	assert_int_equal(hd__shard_of(NULL, 2, 3), 1);
	assert_int_equal(hd__shard_of(NULL, 3, 3), 2);
	assert_int_equal(hd__shard_of(NULL, 4, 3), 0);
}

static void shards_are_about_even(void **state)
{
	long n[5] = {0};
	char key[64];

	(void)state;
	for (int i = 0; i < 50000; i++) {
		snprintf(key, sizeof(key), "user%d@example.com", i);
		n[hd__shard_of(key, i + 1, 5)]++;
	}
	for (int k = 0; k < 5; k++)
		assert_true(n[k] > 9500 && n[k] < 10500);
}

/* ---- where K/N come from ------------------------------------------------ */

static const char *g_env[16][2];

static char *fake_env(const char *name)
{
	for (size_t i = 0; i < 16 && g_env[i][0]; i++)
		if (!strcmp(g_env[i][0], name))
			return (char *)g_env[i][1];
	return NULL;
}

static void env_set(const char *name, const char *value)
{
	size_t i = 0;

	while (i < 15 && g_env[i][0])
		i++;
	g_env[i][0] = name;
	g_env[i][1] = value;
}

static int env_clear(void **state)
{
	(void)state;
	memset(g_env, 0, sizeof(g_env));
	return 0;
}

static hd_status choose(const char *spec, long count, hd_shard *sh, hd_error *e)
{
	return hd_shard_choose(spec, count, fake_env, sh, e);
}

static void spec_counts_from_zero(void **state)
{
	hd_shard sh;
	hd_error e;

	(void)state;
	assert_int_equal(choose("0/4", 0, &sh, &e), HD_OK);
	assert_int_equal(sh.index, 0);
	assert_int_equal(sh.count, 4);
	assert_int_equal(choose("3/4", 4, &sh, &e), HD_OK);
	assert_int_equal(sh.index, 3);
	assert_string_equal(sh.from, "--shard 3/4");
	assert_int_equal(choose("4/4", 0, &sh, &e), HD_EUSAGE);
	assert_non_null(strstr(e.msg, "K counts from 0"));
	assert_int_equal(choose("0/0", 0, &sh, &e), HD_EUSAGE);
	assert_int_equal(choose("1/4", 3, &sh, &e), HD_EUSAGE);
	assert_non_null(strstr(e.msg, "disagree"));
	assert_int_equal(choose("-1/4", 0, &sh, &e), HD_EUSAGE);
	assert_int_equal(choose("1", 0, &sh, &e), HD_EUSAGE);
	assert_int_equal(choose("1/4x", 0, &sh, &e), HD_EUSAGE);
	assert_int_equal(choose(" 1/4", 0, &sh, &e), HD_EUSAGE);
	assert_int_equal(choose("/4", 0, &sh, &e), HD_EUSAGE);
	assert_int_equal(choose("0/1", 0, &sh, &e), HD_OK);
	assert_int_equal(sh.count, 1);
}

static void nothing_is_every_row(void **state)
{
	hd_shard sh;
	hd_error e;

	(void)state;
	assert_int_equal(choose(NULL, 0, &sh, &e), HD_OK);
	assert_int_equal(sh.count, 0);
	/* a count alone says nothing about which shard */
	assert_int_equal(choose(NULL, 4, &sh, &e), HD_EUSAGE);
}

static void kubernetes_index_with_a_count(void **state)
{
	hd_shard sh;
	hd_error e;

	(void)state;
	env_set("JOB_COMPLETION_INDEX", "2");
	assert_int_equal(choose(NULL, 0, &sh, &e), HD_EUSAGE);
	assert_non_null(strstr(e.msg, "--shard-count"));
	assert_int_equal(choose(NULL, 5, &sh, &e), HD_OK);
	assert_int_equal(sh.index, 2);
	assert_int_equal(sh.count, 5);
	env_set("HERALD_SHARD_COUNT", "3");
	assert_int_equal(choose(NULL, 0, &sh, &e), HD_OK);
	assert_int_equal(sh.count, 3);
	/* --shard-count wins over the variable */
	assert_int_equal(choose(NULL, 4, &sh, &e), HD_OK);
	assert_int_equal(sh.count, 4);
	/* --shard wins over everything */
	assert_int_equal(choose("0/2", 0, &sh, &e), HD_OK);
	assert_int_equal(sh.index, 0);
	assert_int_equal(choose(NULL, 2, &sh, &e), HD_EUSAGE);
}

static void kubernetes_index_must_be_a_number(void **state)
{
	hd_shard sh;
	hd_error e;

	(void)state;
	env_set("JOB_COMPLETION_INDEX", "two");
	assert_int_equal(choose(NULL, 4, &sh, &e), HD_EUSAGE);
}

static void slurm_arrays_map_from_their_first_id(void **state)
{
	hd_shard sh;
	hd_error e;

	(void)state;
	/* --array=1-4, task 3 */
	env_set("SLURM_ARRAY_TASK_ID", "3");
	env_set("SLURM_ARRAY_TASK_MIN", "1");
	env_set("SLURM_ARRAY_TASK_MAX", "4");
	env_set("SLURM_ARRAY_TASK_COUNT", "4");
	assert_int_equal(choose(NULL, 0, &sh, &e), HD_OK);
	assert_int_equal(sh.index, 2);
	assert_int_equal(sh.count, 4);
	assert_int_equal(choose(NULL, 4, &sh, &e), HD_OK);
	assert_int_equal(choose(NULL, 5, &sh, &e), HD_EUSAGE);
}

static void slurm_arrays_with_a_step(void **state)
{
	hd_shard sh;
	hd_error e;

	(void)state;
	/* --array=10-40:10, task 30 */
	env_set("SLURM_ARRAY_TASK_ID", "30");
	env_set("SLURM_ARRAY_TASK_MIN", "10");
	env_set("SLURM_ARRAY_TASK_MAX", "40");
	env_set("SLURM_ARRAY_TASK_STEP", "10");
	env_set("SLURM_ARRAY_TASK_COUNT", "4");
	assert_int_equal(choose(NULL, 0, &sh, &e), HD_OK);
	assert_int_equal(sh.index, 2);
	assert_int_equal(sh.count, 4);
}

static void slurm_arrays_with_gaps_are_refused(void **state)
{
	hd_shard sh;
	hd_error e;

	(void)state;
	/* --array=1,3,7: 3 tasks, min 1, max 7 */
	env_set("SLURM_ARRAY_TASK_ID", "3");
	env_set("SLURM_ARRAY_TASK_MIN", "1");
	env_set("SLURM_ARRAY_TASK_MAX", "7");
	env_set("SLURM_ARRAY_TASK_COUNT", "3");
	assert_int_equal(choose(NULL, 0, &sh, &e), HD_EUSAGE);
	assert_non_null(strstr(e.msg, "gaps"));
	/* but --shard still says it */
	assert_int_equal(choose("1/3", 0, &sh, &e), HD_OK);
}

static void slurm_needs_its_count(void **state)
{
	hd_shard sh;
	hd_error e;

	(void)state;
	env_set("SLURM_ARRAY_TASK_ID", "0");
	assert_int_equal(choose(NULL, 0, &sh, &e), HD_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_hash_is_frozen),
	    cmocka_unit_test(rows_without_a_key_go_by_their_number),
	    cmocka_unit_test(shards_are_about_even),
	    cmocka_unit_test_setup(spec_counts_from_zero, env_clear),
	    cmocka_unit_test_setup(nothing_is_every_row, env_clear),
	    cmocka_unit_test_setup(kubernetes_index_with_a_count, env_clear),
	    cmocka_unit_test_setup(kubernetes_index_must_be_a_number,
				   env_clear),
	    cmocka_unit_test_setup(slurm_arrays_map_from_their_first_id,
				   env_clear),
	    cmocka_unit_test_setup(slurm_arrays_with_a_step, env_clear),
	    cmocka_unit_test_setup(slurm_arrays_with_gaps_are_refused,
				   env_clear),
	    cmocka_unit_test_setup(slurm_needs_its_count, env_clear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_dedupe.c — exact duplicate detection with bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dedupe.h"

#include <stdio.h>
#include <string.h>

static void first_is_kept_later_are_duplicates(void **state)
{
	hd_dedupe *d = hd_dedupe_new();
	const char *keys[] = {"a@x", "b@x", "a@x", "c@x", "b@x", "a@x"};
	int want[] = {0, 0, 1, 0, 1, 1};

	(void)state;
	assert_non_null(d);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(hd_dedupe_note(d, keys[i], strlen(keys[i])),
				 HD_OK);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(hd_dedupe_seen(d, keys[i], strlen(keys[i])),
				 want[i]);
	hd_dedupe_free(d);
}

static void many_unique_keys_have_few_suspects(void **state)
{
	hd_dedupe *d = hd_dedupe_new();
	char key[64];
	long dups = 0;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		int n = snprintf(key, sizeof(key), "user%d@example.com", i);
		assert_int_equal(hd_dedupe_note(d, key, (size_t)n), HD_OK);
	}
	/* 200k keys took three layers (64 + 128 + 256 KiB) and
	 * false positives stay rare (about 0.1% a layer) */
	assert_int_equal(hd_dedupe_bytes(d), (64 + 128 + 256) << 10);
	assert_true(hd_dedupe_suspects(d) < 1000);
	for (int i = 0; i < 200000; i++) {
		int n = snprintf(key, sizeof(key), "user%d@example.com", i);
		dups += hd_dedupe_seen(d, key, (size_t)n);
	}
	assert_int_equal(dups, 0); /* suspects never drop a unique row */
	hd_dedupe_free(d);
}

/* A small list costs the first layer only; a key repeated across layers
 * (first in an old one, again after the filter grew) is still found. */
static void the_filter_grows_with_the_list(void **state)
{
	hd_dedupe *d = hd_dedupe_new();
	char key[64];
	long dups = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(key, sizeof(key), "u%d@example.com", i);
		hd_dedupe_note(d, key, (size_t)n);
	}
	assert_int_equal(hd_dedupe_bytes(d), 64 << 10);
	for (int i = 1000; i < 100000; i++) {
		int n = snprintf(key, sizeof(key), "u%d@example.com", i);
		hd_dedupe_note(d, key, (size_t)n);
	}
	assert_true(hd_dedupe_bytes(d) > (64 << 10));
	hd_dedupe_note(d, "u7@example.com", 14); /* row 100,001 */
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof(key), "u%d@example.com", i);
		dups += hd_dedupe_seen(d, key, (size_t)n);
	}
	assert_int_equal(dups, 0);
	assert_int_equal(hd_dedupe_seen(d, "u7@example.com", 14), 1);
	hd_dedupe_free(d);
}

/* Notes keys "e<i>@example.com" for i in [from, to), every 1,000th
 * also noted again at once (a planted duplicate); then checks, in order,
 * that exactly the planted repeats are duplicates. */
static void note_and_check(hd_dedupe *d, int from, int to)
{
	char key[64];
	long dups = 0, want = 0;

	for (int i = from; i < to; i++) {
		int n = snprintf(key, sizeof(key), "e%d@example.com", i);
		assert_int_equal(hd_dedupe_note(d, key, (size_t)n), HD_OK);
		if (i % 1000 == 0)
			assert_int_equal(hd_dedupe_note(d, key, (size_t)n),
					 HD_OK);
	}
	for (int i = from; i < to; i++) {
		int n = snprintf(key, sizeof(key), "e%d@example.com", i);
		assert_int_equal(hd_dedupe_seen(d, key, (size_t)n), 0);
		if (i % 1000 == 0) {
			dups += hd_dedupe_seen(d, key, (size_t)n);
			want++;
		}
	}
	assert_int_equal(dups, want);
}

/* Told how many keys to expect, the filter makes one layer for what
 * follows the first, sized for the keys still to come (2 bytes a key),
 * where doubling would make six layers (4032 KiB) for 1.1 million keys;
 * duplicates are found all the same, in the first layer and the next. */
static void an_estimate_sizes_the_next_layer(void **state)
{
	hd_dedupe *d = hd_dedupe_new();
	/* 1,100,000 keys and 1,100 planted repeats */
	size_t first = 64 << 10, more = 1101100 - first / 2;

	(void)state;
	hd_dedupe_expect(d, 1101100);
	note_and_check(d, 0, 1100000);
	assert_int_equal(hd_dedupe_bytes(d), first + (more + 7) / 8 * 16);
	assert_true(hd_dedupe_bytes(d) < (2300u << 10));
	/* about 0.1% false positives, as the layers of doubling have */
	assert_true(hd_dedupe_suspects(d) < 1100000 / 1000 * 2 + 1100);
	hd_dedupe_free(d);
}

/* An estimate that falls short: once the keys outgrow it the layers
 * double again, within HD_DEDUPE_MAX_BYTES; one far too large is held to
 * HD_DEDUPE_MAX_BYTES.  Neither loses a duplicate or makes one. */
static void a_wrong_estimate_stays_within_bounds(void **state)
{
	hd_dedupe *d = hd_dedupe_new();

	(void)state;
	hd_dedupe_expect(d, 40000);
	note_and_check(d, 0, 300000);
	/* 64 KiB; then 15 KiB would do, but 64 KiB is the least; then
	 * doubling: 128, 256 and 512 KiB (room for 294,912 keys in the
	 * first four layers) */
	assert_int_equal(hd_dedupe_bytes(d), (64 + 64 + 128 + 256 + 512) << 10);
	hd_dedupe_free(d);

	d = hd_dedupe_new();
	hd_dedupe_expect(d, (size_t)1 << 40);
	note_and_check(d, 0, 100000);
	assert_int_equal(hd_dedupe_bytes(d), HD_DEDUPE_MAX_BYTES);
	hd_dedupe_free(d);
}

static void keys_differing_only_late_are_distinct(void **state)
{
	hd_dedupe *d = hd_dedupe_new();

	(void)state;
	hd_dedupe_note(d, "abc", 3);
	hd_dedupe_note(d, "abd", 3);
	hd_dedupe_note(d, "abc", 3);
	assert_int_equal(hd_dedupe_seen(d, "abc", 3), 0);
	assert_int_equal(hd_dedupe_seen(d, "abd", 3), 0);
	assert_int_equal(hd_dedupe_seen(d, "abc", 3), 1);
	/* a key that is a prefix of another is not the same key */
	assert_int_equal(hd_dedupe_seen(d, "ab", 2), 0);
	hd_dedupe_free(d);
	hd_dedupe_free(NULL);
}

/* Removing keys keeps every other key findable (backward shift). */
static void keyset_remove_keeps_the_rest(void **state)
{
	hd_keyset *k = hd_keyset_new();
	char key[64];

	(void)state;
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(hd_keyset_add(k, key, (size_t)n), 1);
	}
	for (int i = 0; i < 5000; i += 3) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(hd_keyset_remove(k, key, (size_t)n), 1);
		assert_int_equal(hd_keyset_remove(k, key, (size_t)n), 0);
	}
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(hd_keyset_has(k, key, (size_t)n), i % 3 != 0);
	}
	assert_int_equal(hd_keyset_count(k), 5000 - 1667);
	/* and they can come back */
	assert_int_equal(hd_keyset_add(k, "k0", 2), 1);
	assert_int_equal(hd_keyset_has(k, "k0", 2), 1);
	assert_int_equal(hd_keyset_remove(k, "zz", 2), 0);
	hd_keyset_free(k);
}

/* A one-pass run's recent keys: repeats within `keep` are found, memory
 * stays within two generations. */
static void recent_keys_are_remembered_for_a_while(void **state)
{
	hd_recent *r = hd_recent_new(100);
	char key[64];

	(void)state;
	assert_non_null(r);
	assert_int_equal(hd_recent_seen(r, "a@x", 3), 0);
	assert_int_equal(hd_recent_seen(r, "a@x", 3), 1);
	for (int i = 0; i < 99; i++) {
		int n = snprintf(key, sizeof(key), "u%d@x", i);
		assert_int_equal(hd_recent_seen(r, key, (size_t)n), 0);
	}
	/* a@x and the 99 after it: still known */
	assert_int_equal(hd_recent_seen(r, "a@x", 3), 1);
	for (int i = 0; i < 250; i++) {
		int n = snprintf(key, sizeof(key), "v%d@x", i);
		assert_int_equal(hd_recent_seen(r, key, (size_t)n), 0);
	}
	/* 250 keys later: forgotten, taken as new */
	assert_int_equal(hd_recent_seen(r, "a@x", 3), 0);
	/* the last 100 are always known */
	for (int i = 150; i < 250; i++) {
		int n = snprintf(key, sizeof(key), "v%d@x", i);
		assert_int_equal(hd_recent_seen(r, key, (size_t)n), 1);
	}
	hd_recent_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(first_is_kept_later_are_duplicates),
	    cmocka_unit_test(many_unique_keys_have_few_suspects),
	    cmocka_unit_test(the_filter_grows_with_the_list),
	    cmocka_unit_test(an_estimate_sizes_the_next_layer),
	    cmocka_unit_test(a_wrong_estimate_stays_within_bounds),
	    cmocka_unit_test(keys_differing_only_late_are_distinct),
	    cmocka_unit_test(keyset_remove_keeps_the_rest),
	    cmocka_unit_test(recent_keys_are_remembered_for_a_while),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_commit.c — the committer: a mark is durable only once everything
 * queued before it is on disk (herald consume acknowledges an entry then).
 */
#include "commit.h"

#include "servers/spawn.h"

#include <fcntl.h>
#include <pthread.h>
#include <time.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static char g_tmp[512];
static char g_path[PATH_MAX];
static int g_n;

static int setup(void **state)
{
	(void)state;
	snprintf(g_path, sizeof(g_path), "%s/j%d.jsonl", g_tmp, ++g_n);
	return 0;
}

/* Waits (at most 10 s) for seq to be durable; its last answer. */
static int wait_durable(hd__commit *c, uint64_t seq)
{
	struct timespec ms = {0, 1000000};
	int r = 0;

	for (int i = 0; i < 10000 && (r = hd__commit_durable(c, seq)) == 0; i++)
		nanosleep(&ms, NULL);
	return r;
}

/* Lines of the journal file holding "end". */
static int ends_on_disk(void)
{
	FILE *fp = fopen(g_path, "r");
	char line[1024];
	int n = 0;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		n += strncmp(line, "{\"end\":", 7) == 0;
	fclose(fp);
	return n;
}

struct producer {
	hd__commit *c;
	int base;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	char id[64];

	for (int i = 0; i < 250; i++) {
		hd_report_row r = {0};
		snprintf(id, sizeof(id), "user%d@x", p->base + i);
		r.row = p->base + i + 1;
		r.status = HD_ROW_SENT;
		r.at = 1764756000.0;
		assert_int_equal(hd__commit_end(p->c, &r, id), HD_OK);
	}
	return NULL;
}

static void test_mark_after_ends(void **state)
{
	hd_journal *j;
	hd__commit *c;
	struct producer p[4];
	pthread_t t[4];
	uint64_t seq;
	hd_error e;

	(void)state;
	assert_int_equal(hd__journal_open(g_path, 1, "c", "c", &j, &e), HD_OK);
	assert_int_equal(hd__commit_start(NULL, j, &c, &e), HD_OK);
	for (int i = 0; i < 4; i++) {
		p[i].c = c;
		p[i].base = i * 1000;
		assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]),
				 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(hd__commit_mark(c, &seq), HD_OK);
	assert_true(seq > 0);
	assert_int_equal(wait_durable(c, seq), 1);
	/* every end queued before the mark is in the file already */
	assert_int_equal(ends_on_disk(), 1000);
	assert_int_equal(hd__commit_close(c, &e), HD_OK);
	assert_int_equal(hd__journal_close(j, &e), HD_OK);
}

static void test_mark_without_journal(void **state)
{
	hd__commit *c;
	uint64_t seq;
	hd_error e;

	(void)state;
	assert_int_equal(hd__commit_start(NULL, NULL, &c, &e), HD_OK);
	assert_int_equal(hd__commit_mark(c, &seq), HD_OK);
	assert_int_equal(wait_durable(c, seq), 1);
	assert_int_equal(hd__commit_close(c, &e), HD_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_mark_after_ends, setup),
	    cmocka_unit_test_setup(test_mark_without_journal, setup),
	};
	int rc;

	if (spawn_mkdtemp(g_tmp, sizeof(g_tmp), "test_commit") != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	spawn_rmtree(g_tmp);
	return rc;
}

/*
 * test_journal.c — the journal file: creation, the lock, reading back what
 * each key's records say, a torn last line, foreign files.
 */
#include "filter.h"
#include "journal.h"

#include "servers/spawn.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

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

static void append_text(const char *text)
{
	int fd = open(g_path, O_WRONLY | O_APPEND | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static long file_size(void)
{
	struct stat st;

	return stat(g_path, &st) == 0 ? (long)st.st_size : -1;
}

static hd_journal *open_rw(const char *campaign)
{
	hd_journal *j = NULL;
	hd_error e;

	if (hd__journal_open(g_path, 1, campaign, "fresh-campaign", &j, &e) !=
	    HD_OK)
		fail_msg("open: %s", e.msg);
	return j;
}

static void end_row(hd_journal *j, long row, const char *id, hd_row_status s,
		    const char *error)
{
	hd_report_row r = {0};

	r.row = row;
	r.status = s;
	r.error = error;
	r.code = s == HD_ROW_SENT ? 250 : 0;
	r.at = 1764756000.5;
	assert_int_equal(hd__journal_add_end(j, &r, id), HD_OK);
}

static hd__jinfo look(hd_journal *j, const char *id)
{
	hd__jinfo ji;
	hd_error e;

	assert_int_equal(hd__journal_lookup(j, id, &ji, &e), HD_OK);
	return ji;
}

/* A one-pass run: a repeat of a key this run took is a duplicate, even
 * when that send has reached the journal before the repeat is decided
 * (it_onepass saw "sent earlier" once, when the first send was quick).
 * The next run says "sent earlier" for both. */
static void test_repeat_after_its_send_is_journaled(void **state)
{
	hd__filter_config fc = {0};
	hd__filter *f;
	hd__verdict v;
	hd_journal *j;
	hd_error e;

	(void)state;
	fc.dedupe = HD__DEDUPE_RECENT;
	for (int run = 1; run <= 2; run++) {
		j = open_rw(NULL);
		hd__journal_live(j);
		fc.journal = j;
		assert_int_equal(hd__filter_new(&fc, &f, &e), HD_OK);
		assert_int_equal(hd__filter_decide(f, HD__PASS_ONE, 1, "ann@x",
						   NULL, &v, &e),
				 HD_OK);
		if (run == 1) {
			assert_true(v.take);
			assert_int_equal(hd__journal_add_start(j, 1, "ann@x", 1,
							       1764756000.0),
					 HD_OK);
			end_row(j, 1, "ann@x", HD_ROW_SENT, NULL);
			assert_int_equal(hd__journal_flush(j, 0, &e), HD_OK);
			assert_int_equal(look(j, "ann@x").state, HD__J_SENT);
		} else {
			assert_false(v.take);
			assert_non_null(strstr(v.reason, "sent earlier"));
		}
		assert_int_equal(hd__filter_decide(f, HD__PASS_ONE, 2, "ann@x",
						   NULL, &v, &e),
				 HD_OK);
		assert_false(v.take);
		assert_non_null(strstr(v.reason, run == 1 ? "duplicate key"
							  : "sent earlier"));
		hd__filter_free(f);
		assert_int_equal(hd__journal_close(j, &e), HD_OK);
	}
}

static void test_create_and_reopen(void **state)
{
	hd_journal *j;
	hd_error e;
	struct stat st;

	(void)state;
	j = open_rw(NULL);
	assert_string_equal(hd__journal_campaign(j), "fresh-campaign");
	assert_int_equal(hd__journal_keys(j), 0);
	assert_int_equal(stat(g_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(hd__journal_close(j, &e), HD_OK);

	/* the campaign is the journal's from now on */
	j = open_rw(NULL);
	assert_string_equal(hd__journal_campaign(j), "fresh-campaign");
	assert_int_equal(hd__journal_close(j, &e), HD_OK);
	j = open_rw("fresh-campaign");
	assert_int_equal(hd__journal_close(j, &e), HD_OK);
	assert_int_equal(hd__journal_open(g_path, 1, "other", "x", &j, &e),
			 HD_EUSAGE);
	assert_non_null(strstr(e.msg, "campaign 'fresh-campaign'"));

	/* read-only: a missing journal is an empty one, and not created */
	snprintf(g_path, sizeof(g_path), "%s/missing.jsonl", g_tmp);
	assert_int_equal(hd__journal_open(g_path, 0, NULL, "c", &j, &e), HD_OK);
	assert_int_equal(hd__journal_keys(j), 0);
	hd__journal_close(j, NULL);
	assert_int_equal(access(g_path, F_OK), -1);
}

/* What the last record of a key says decides; "sent" is final. */
static void test_states(void **state)
{
	hd_journal *j;
	hd__jinfo ji;
	hd_error e;

	(void)state;
	j = open_rw("c1");
	hd__journal_add_start(j, 1, "sent@x", 1, 1764756000.0);
	end_row(j, 1, "sent@x", HD_ROW_SENT, NULL);
	hd__journal_add_start(j, 2, "crash@x", 1, 1764756000.0);
	hd__journal_add_start(j, 3, "retry@x", 1, 1764756000.0);
	hd__journal_add_retry(j, 3, "retry@x", 1, 1764756000.0);
	hd__journal_add_start(j, 4, "unc@x", 1, 1764756000.0);
	end_row(j, 4, "unc@x", HD_ROW_UNCERTAIN, "sent, no reply within 30 s");
	hd__journal_add_start(j, 5, "failed@x", 1, 1764756000.0);
	end_row(j, 5, "failed@x", HD_ROW_FAILED, "refused: 550");
	/* a later start cannot undo "sent" */
	hd__journal_add_start(j, 6, "sent@x", 1, 1764756000.0);
	assert_int_equal(hd__journal_flush(j, 1, &e), HD_OK);
	assert_int_equal(hd__journal_close(j, &e), HD_OK);

	j = open_rw(NULL);
	assert_int_equal(hd__journal_keys(j), 5);
	ji = look(j, "sent@x");
	assert_int_equal(ji.state, HD__J_SENT);
	assert_string_equal(ji.at, "2025-12-03T10:00:00.500Z");
	ji = look(j, "crash@x");
	assert_int_equal(ji.state, HD__J_UNCERTAIN);
	assert_int_equal(ji.started_only, 1);
	ji = look(j, "retry@x");
	assert_int_equal(ji.state, HD__J_FAILED);
	ji = look(j, "unc@x");
	assert_int_equal(ji.state, HD__J_UNCERTAIN);
	assert_int_equal(ji.started_only, 0);
	assert_string_equal(ji.error, "sent, no reply within 30 s");
	ji = look(j, "failed@x");
	assert_int_equal(ji.state, HD__J_FAILED);
	ji = look(j, "nobody@x");
	assert_int_equal(ji.state, HD__J_NONE);
	/* exact keys: a different case is a different identity here (the
	 * caller folds case where it must not matter) */
	ji = look(j, "SENT@x");
	assert_int_equal(ji.state, HD__J_NONE);
	hd__journal_close(j, NULL);
}

/* A crash mid-write leaves a line without its newline: it is ignored, cut
 * off before the next run appends, and loses no earlier record. */
static void test_torn_last_line(void **state)
{
	hd_journal *j;
	hd_error e;
	long before;

	(void)state;
	j = open_rw("c2");
	hd__journal_add_start(j, 1, "a@x", 1, 1764756000.0);
	end_row(j, 1, "a@x", HD_ROW_SENT, NULL);
	hd__journal_close(j, NULL);
	before = file_size();
	append_text("{\"start\":2,\"key\":\"b@x\",\"att");
	j = open_rw(NULL);
	assert_int_equal(file_size(), before);
	assert_int_equal(look(j, "a@x").state, HD__J_SENT);
	assert_int_equal(look(j, "b@x").state, HD__J_NONE);
	hd__journal_add_start(j, 2, "b@x", 1, 1764756000.0);
	assert_int_equal(hd__journal_close(j, &e), HD_OK);
	j = open_rw(NULL);
	assert_int_equal(look(j, "b@x").state, HD__J_UNCERTAIN);
	hd__journal_close(j, NULL);

	/* torn while the header itself was written: a new journal */
	snprintf(g_path, sizeof(g_path), "%s/torn-header.jsonl", g_tmp);
	append_text("{\"herald_journal\":1,\"camp");
	j = open_rw("c3");
	assert_string_equal(hd__journal_campaign(j), "c3");
	hd__journal_close(j, NULL);
}

static void test_foreign(void **state)
{
	hd_journal *j = NULL;
	hd_error e;

	(void)state;
	append_text("name,email\nAnn,ann@example.com\n");
	assert_int_equal(hd__journal_open(g_path, 1, NULL, "c", &j, &e),
			 HD_EPARSE);
	assert_null(j);
	assert_int_equal(e.line, 1);
	assert_non_null(strstr(e.msg, "not a herald journal"));
	/* and it was not touched */
	assert_int_equal(file_size(), 31);

	setup(NULL);
	append_text("{\"herald_journal\":1,\"campaign\":\"c\"}\n"
		    "{\"start\":1,\"key\":\"a@x\",\"attempt\":1}\n"
		    "{\"what\":1}\n"
		    "{\"start\":2,\"key\":\"b@x\",\"attempt\":1}\n");
	assert_int_equal(hd__journal_open(g_path, 1, NULL, "c", &j, &e),
			 HD_EPARSE);
	assert_int_equal(e.line, 3);
	assert_non_null(strstr(e.msg, "not a herald journal record"));
}

/* A second opener gets HD_ELOCKED at once, with the holder's pid. */
static void test_lock(void **state)
{
	hd_journal *j = open_rw("c4");
	char want[64];
	pid_t child;
	int status;

	(void)state;
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		hd_journal *k = NULL;
		hd_error e;
		long t0 = spawn_now_ms();
		hd_status st = hd__journal_open(g_path, 1, NULL, "c", &k, &e);
		snprintf(want, sizeof(want), "(pid %ld)", (long)getppid());
		_exit(st == HD_ELOCKED && !k && strstr(e.msg, want) &&
			      spawn_now_ms() - t0 < 1000
			  ? 0
			  : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* read-only openers (check, dry run) do not need the lock */
	{
		hd_journal *k = NULL;
		assert_int_equal(
		    hd__journal_open(g_path, 0, NULL, "c", &k, NULL), HD_OK);
		hd__journal_close(k, NULL);
	}
	hd__journal_close(j, NULL);
	/* once closed, it is free again */
	j = open_rw(NULL);
	hd__journal_close(j, NULL);
}

/* Many keys: the index grows and every key is found again. */
static void test_many(void **state)
{
	hd_journal *j;
	char id[64];

	(void)state;
	j = open_rw("c5");
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "user%d@example.com", i);
		hd__journal_add_start(j, i + 1, id, 1, 1764756000.0);
		if (i % 3)
			end_row(j, i + 1, id, HD_ROW_SENT, NULL);
		if (i % 1000 == 0)
			assert_int_equal(hd__journal_flush(j, 0, NULL), HD_OK);
	}
	hd__journal_close(j, NULL);
	j = open_rw(NULL);
	assert_int_equal(hd__journal_keys(j), 20000);
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "user%d@example.com", i);
		assert_int_equal(look(j, id).state,
				 i % 3 ? HD__J_SENT : HD__J_UNCERTAIN);
	}
	hd__journal_close(j, NULL);
}

/* Live: what this run flushes is found by its own lookups; without live,
 * lookups see what the journal held when it was opened. */
static void test_live(void **state)
{
	hd_journal *j;
	hd_error e;

	(void)state;
	j = open_rw("c6");
	hd__journal_add_start(j, 1, "a@x", 1, 1764756000.0);
	assert_int_equal(hd__journal_flush(j, 1, &e), HD_OK);
	assert_int_equal(look(j, "a@x").state, HD__J_NONE);
	hd__journal_close(j, NULL);

	j = open_rw(NULL);
	hd__journal_live(j);
	assert_int_equal(look(j, "a@x").state, HD__J_UNCERTAIN); /* opened */
	hd__journal_add_start(j, 2, "b@x", 1, 1764756000.0);
	/* not on disk yet: not known */
	assert_int_equal(look(j, "b@x").state, HD__J_NONE);
	assert_int_equal(hd__journal_flush(j, 1, &e), HD_OK);
	assert_int_equal(look(j, "b@x").state, HD__J_UNCERTAIN);
	assert_int_equal(look(j, "b@x").started_only, 1);
	hd__journal_add_retry(j, 2, "b@x", 1, 1764756000.0);
	hd__journal_add_start(j, 3, "c@x", 1, 1764756000.0);
	end_row(j, 3, "c@x", HD_ROW_SENT, NULL);
	end_row(j, 1, "a@x", HD_ROW_FAILED, "refused");
	assert_int_equal(hd__journal_flush(j, 0, &e), HD_OK);
	assert_int_equal(look(j, "b@x").state, HD__J_FAILED);
	assert_int_equal(look(j, "c@x").state, HD__J_SENT);
	assert_string_equal(look(j, "c@x").at, "2025-12-03T10:00:00.500Z");
	assert_int_equal(look(j, "a@x").state, HD__J_FAILED);
	assert_string_equal(look(j, "a@x").error, "refused");
	/* "sent" stays */
	hd__journal_add_start(j, 4, "c@x", 1, 1764756000.0);
	assert_int_equal(hd__journal_flush(j, 0, &e), HD_OK);
	assert_int_equal(look(j, "c@x").state, HD__J_SENT);
	assert_int_equal(hd__journal_keys(j), 3);
	hd__journal_close(j, NULL);

	/* and the file says the same to the next run */
	j = open_rw(NULL);
	assert_int_equal(look(j, "b@x").state, HD__J_FAILED);
	assert_int_equal(look(j, "c@x").state, HD__J_SENT);
	hd__journal_close(j, NULL);
}

struct looker {
	hd_journal *j;
	int stop; /* under the journal's own ordering: atomic below */
	long seen_sent;
};

static void *look_loop(void *arg)
{
	struct looker *l = arg;
	char id[64];

	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < 500; i += 7) {
			hd__jinfo ji;
			snprintf(id, sizeof(id), "user%d@x", i);
			assert_int_equal(
			    hd__journal_lookup(l->j, id, &ji, NULL), HD_OK);
			l->seen_sent += ji.state == HD__J_SENT;
		}
	}
	return NULL;
}

/* Lookups on one thread while another appends and flushes (TSan). */
static void test_live_threads(void **state)
{
	struct looker l = {0};
	pthread_t t;
	char id[64];

	(void)state;
	l.j = open_rw("c7");
	hd__journal_live(l.j);
	assert_int_equal(pthread_create(&t, NULL, look_loop, &l), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(id, sizeof(id), "user%d@x", i);
		hd__journal_add_start(l.j, i + 1, id, 1, 1764756000.0);
		end_row(l.j, i + 1, id, HD_ROW_SENT, NULL);
		assert_int_equal(hd__journal_flush(l.j, 0, NULL), HD_OK);
	}
	__atomic_store_n(&l.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	for (int i = 0; i < 500; i++) {
		snprintf(id, sizeof(id), "user%d@x", i);
		assert_int_equal(look(l.j, id).state, HD__J_SENT);
	}
	hd__journal_close(l.j, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_create_and_reopen, setup),
	    cmocka_unit_test_setup(test_repeat_after_its_send_is_journaled,
				   setup),
	    cmocka_unit_test_setup(test_states, setup),
	    cmocka_unit_test_setup(test_torn_last_line, setup),
	    cmocka_unit_test_setup(test_foreign, setup),
	    cmocka_unit_test_setup(test_lock, setup),
	    cmocka_unit_test_setup(test_many, setup),
	    cmocka_unit_test_setup(test_live, setup),
	    cmocka_unit_test_setup(test_live_threads, setup),
	};
	int rc;

	if (spawn_mkdtemp(g_tmp, sizeof(g_tmp), "test_journal") != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	spawn_rmtree(g_tmp);
	return rc;
}

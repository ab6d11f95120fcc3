/*
 * test_run.c — hd_run and hd_render, the run as a whole.
 *
 * Each test writes a template and a recipients file into a scratch folder,
 * runs the pipeline through the public API (dry run, outbox, or SMTP to
 * tests/servers/smtp_server.py on 127.0.0.1) and reads back the JSONL
 * report: every input row exactly once, with the status, reason and
 * counts the run promised.  Written before the middle of the pipeline was
 * reshaped, so that the reshaping is checked.
 */
#include "herald.h"

#include "servers/spawn.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define PYTHON "/usr/bin/python3"

static char g_tmp[512];
static int g_ntest;
static char g_dir[PATH_MAX]; /* this test's folder */
static pid_t g_server;	     /* to kill when a test fails half-way */
static int g_have_smtp;
static int g_nserver; /* numbers the servers' spools */

static const char welcome[] = "From: Acme <noreply@acme.example>\n"
			      "To: {{name}} <{{email}}>\n"
			      "Subject: Hello {{name}}\n"
			      "\n"
			      "Hello {{name}}.\n";

static void path_in(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", g_dir, name);
}

static void write_file(const char *name, const char *text)
{
	char p[PATH_MAX + 64];
	FILE *fp;

	path_in(p, sizeof(p), name);
	fp = fopen(p, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "%s/t%d", g_tmp, ++g_ntest);
	if (mkdir(g_dir, 0700) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (g_server) {
		struct spawn_server sp = {g_server, 0};
		spawn_server_stop(&sp);
		g_server = 0;
	}
	return 0;
}

/* A run configuration with the test's template and recipients. */
struct t_run {
	hd_run_config cfg;
	char tmpl[PATH_MAX + 64], list[PATH_MAX + 64], report[PATH_MAX + 64];
	char outbox[PATH_MAX + 64];
	hd_run_stats stats;
	hd_error err;
	json_t *rows; /* the report, one object per line */
};

static void t_init(struct t_run *t, const char *tmpl_name,
		   const char *list_name)
{
	memset(t, 0, sizeof(*t));
	path_in(t->tmpl, sizeof(t->tmpl), tmpl_name);
	path_in(t->list, sizeof(t->list), list_name);
	path_in(t->report, sizeof(t->report), "report.jsonl");
	path_in(t->outbox, sizeof(t->outbox), "outbox");
	t->cfg.template_path = t->tmpl;
	t->cfg.recipients_path = t->list;
	t->cfg.report_path = t->report;
	t->cfg.retries = -1;
	t->cfg.campaign = "test";
}

static json_t *read_report(const char *path)
{
	json_t *rows = json_array();
	FILE *fp = fopen(path, "r");
	char line[8192];

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		if (!o)
			fail_msg("bad report line: %s (%s)", line, je.text);
		json_array_append_new(rows, o);
	}
	fclose(fp);
	return rows;
}

static hd_status t_go(struct t_run *t)
{
	hd_status st = hd_run(&t->cfg, &t->stats, &t->err);

	json_decref(t->rows);
	t->rows = NULL;
	if (access(t->report, F_OK) == 0)
		t->rows = read_report(t->report);
	return st;
}

static void t_free(struct t_run *t)
{
	json_decref(t->rows);
	t->rows = NULL;
}

/* The report object of input row n, asserting there is exactly one. */
static json_t *row_of(const struct t_run *t, long n)
{
	json_t *found = NULL, *o;
	size_t i;

	assert_non_null(t->rows);
	json_array_foreach(t->rows, i, o)
	{
		if (json_integer_value(json_object_get(o, "row")) != n)
			continue;
		if (found)
			fail_msg("row %ld is in the report twice", n);
		found = o;
	}
	if (!found)
		fail_msg("row %ld is not in the report", n);
	return found;
}

static const char *str_of(json_t *o, const char *field)
{
	json_t *v = json_object_get(o, field);
	return json_is_string(v) ? json_string_value(v) : "";
}

static void expect_status(const struct t_run *t, long n, const char *status)
{
	const char *got = str_of(row_of(t, n), "status");

	if (strcmp(got, status) != 0)
		fail_msg("row %ld: status '%s', want '%s'", n, got, status);
}

/* Every row 1..n exactly once, nothing else. */
static void expect_rows(const struct t_run *t, long n)
{
	assert_non_null(t->rows);
	assert_int_equal(json_array_size(t->rows), (size_t)n);
	for (long i = 1; i <= n; i++)
		(void)row_of(t, i);
}

static size_t count_status(const struct t_run *t, const char *status)
{
	size_t i, n = 0;
	json_t *o;

	json_array_foreach(t->rows, i, o) n +=
	    strcmp(str_of(o, "status"), status) == 0;
	return n;
}

static long files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A CSV list of n rows: name,email with distinct addresses. */
static void write_list(const char *name, long n)
{
	char p[PATH_MAX + 64];
	FILE *fp;

	path_in(p, sizeof(p), name);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fprintf(fp, "name,email\n");
	for (long i = 1; i <= n; i++)
		fprintf(fp, "Person %ld,p%ld@example.com\n", i, i);
	assert_int_equal(fclose(fp), 0);
}

/* ---- dry run, check and the outbox ------------------------------------ */

static void test_dry_run_every_row(void **state)
{
	static const unsigned conc[] = {1, 3, 16};
	struct t_run t;

	(void)state;
	write_file("m.eml", welcome);
	write_list("list.csv", 200);
	for (size_t c = 0; c < sizeof(conc) / sizeof(conc[0]); c++) {
		t_init(&t, "m.eml", "list.csv");
		t.cfg.dry_run = 1;
		t.cfg.concurrency = conc[c];
		assert_int_equal(t_go(&t), HD_OK);
		expect_rows(&t, 200);
		assert_int_equal(count_status(&t, "dry-run"), 200);
		assert_int_equal(t.stats.dry_run, 200);
		assert_int_equal(t.stats.done, 200);
		assert_int_equal(t.stats.total, 200);
		t_free(&t);
	}
}

static void test_outbox_sends(void **state)
{
	struct t_run t;
	json_t *o;

	(void)state;
	write_file("m.eml", welcome);
	write_list("list.csv", 30);
	t_init(&t, "m.eml", "list.csv");
	t.cfg.outbox_dir = t.outbox;
	t.cfg.concurrency = 4;
	assert_int_equal(t_go(&t), HD_OK);
	expect_rows(&t, 30);
	assert_int_equal(count_status(&t, "sent"), 30);
	assert_int_equal(files_in(t.outbox), 30);
	assert_int_equal(t.stats.sent, 30);
	o = row_of(&t, 7);
	assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 1);
	assert_true(strncmp(str_of(o, "message_id"), "<", 1) == 0);
	t_free(&t);
}

static void test_skip_limit(void **state)
{
	struct t_run t;

	(void)state;
	write_file("m.eml", welcome);
	write_list("list.csv", 20);
	t_init(&t, "m.eml", "list.csv");
	t.cfg.dry_run = 1;
	t.cfg.skip = 5;
	t.cfg.limit = 10;
	assert_int_equal(t_go(&t), HD_OK);
	expect_rows(&t, 20);
	for (long i = 1; i <= 20; i++)
		expect_status(&t, i, i > 5 && i <= 15 ? "dry-run" : "skipped");
	assert_int_equal(t.stats.total, 10);
	assert_int_equal(t.stats.dry_run, 10);
	assert_int_equal(t.stats.skipped, 10);
	t_free(&t);
}

static void test_duplicates_skipped(void **state)
{
	struct t_run t;

	(void)state;
	write_file("m.eml", welcome);
	write_file("list.csv", "name,email\n"
			       "Ann,ann@example.com\n"
			       "Bob,bob@example.com\n"
			       "Ann again,ann@example.com\n"
			       "Cy,cy@example.com\n");
	t_init(&t, "m.eml", "list.csv");
	t.cfg.dry_run = 1;
	assert_int_equal(t_go(&t), HD_OK);
	expect_rows(&t, 4);
	expect_status(&t, 1, "dry-run");
	expect_status(&t, 2, "dry-run");
	expect_status(&t, 3, "skipped");
	expect_status(&t, 4, "dry-run");
	assert_non_null(strstr(str_of(row_of(&t, 3), "error"), "duplicate"));
	t_free(&t);
}

static void test_invalid_refuses(void **state)
{
	struct t_run t;

	(void)state;
	write_file("m.eml", welcome);
	write_file("list.csv", "name,email\n"
			       "Ann,ann@example.com\n"
			       ",bob@example.com\n"
			       "Cy,not-an-address\n"
			       "Di,di@example.com\n");
	t_init(&t, "m.eml", "list.csv");
	t.cfg.outbox_dir = t.outbox;
	assert_int_equal(t_go(&t), HD_EINVALIDROWS);
	expect_rows(&t, 4);
	expect_status(&t, 1, "not-attempted");
	expect_status(&t, 2, "invalid");
	expect_status(&t, 3, "invalid");
	expect_status(&t, 4, "not-attempted");
	assert_int_equal(files_in(t.outbox), 0);
	t_free(&t);

	/* --skip-invalid sends the rest */
	t_init(&t, "m.eml", "list.csv");
	t.cfg.outbox_dir = t.outbox;
	t.cfg.skip_invalid = 1;
	assert_int_equal(t_go(&t), HD_OK);
	expect_rows(&t, 4);
	expect_status(&t, 1, "sent");
	expect_status(&t, 2, "invalid");
	expect_status(&t, 3, "invalid");
	expect_status(&t, 4, "sent");
	assert_int_equal(t.stats.invalid, 2);
	assert_int_equal(t.stats.sent, 2);
	assert_int_equal(files_in(t.outbox), 2);
	t_free(&t);
}

static void test_broken_file(void **state)
{
	struct t_run t;

	(void)state;
	write_file("m.eml", welcome);
	write_file("list.csv", "name,email\n"
			       "Ann,ann@example.com\n"
			       "\"Bob,bob@example.com\n");
	t_init(&t, "m.eml", "list.csv");
	t.cfg.outbox_dir = t.outbox;
	assert_int_equal(t_go(&t), HD_EPARSE);
	assert_int_equal(t.err.line, 3);
	assert_int_equal(files_in(t.outbox), 0);
	t_free(&t);

	t_init(&t, "m.eml", "missing.csv");
	assert_int_equal(t_go(&t), HD_ENOENT);
	t_free(&t);
}

/* Invalid rows the run told of (HD_EVENT_INVALID_ROW), by row. */
struct t_invalid {
	long rows[16];
	size_t n;
};

static void note_invalid(void *ctx, const hd_event *ev)
{
	struct t_invalid *seen = ctx;

	if (ev->kind == HD_EVENT_INVALID_ROW && seen->n < 16)
		seen->rows[seen->n++] = ev->error->row;
}

/* The workers parse JSON Lines: a line that does not parse ends the file
 * there as if the reader had found it, wherever the workers were. */
static void test_broken_jsonl(void **state)
{
	static const unsigned conc[] = {1, 16};
	struct t_run t;
	char p[PATH_MAX + 64];
	FILE *fp;

	(void)state;
	write_file("m.eml", welcome);
	path_in(p, sizeof(p), "broken.jsonl");
	fp = fopen(p, "w");
	assert_non_null(fp);
	for (long i = 1; i <= 300; i++) {
		if (i == 200)
			fprintf(
			    fp,
			    "{\"name\": \"P\", \"email\" \"p@x.example\"}\n");
		else if (i == 203) /* a fault the reader itself finds */
			fprintf(fp, "{\"name\": \"caf\xe9\"}\n");
		else if (i == 100 || i == 201)
			fprintf(fp, "{\"name\": \"No address\"}\n");
		else
			fprintf(fp,
				"{\"name\":\"P%ld\",\"email\":\"p%ld@x."
				"example\"}\n",
				i, i);
	}
	assert_int_equal(fclose(fp), 0);
	for (size_t c = 0; c < sizeof(conc) / sizeof(conc[0]); c++) {
		struct t_invalid seen = {{0}, 0};

		t_init(&t, "m.eml", "broken.jsonl");
		t.cfg.outbox_dir = t.outbox;
		t.cfg.concurrency = conc[c];
		t.cfg.on_event = note_invalid;
		t.cfg.event_ctx = &seen;
		assert_int_equal(t_go(&t), HD_EPARSE);
		assert_string_equal(t.err.file, t.list);
		assert_int_equal(t.err.line, 200);
		assert_int_equal(t.err.column, 22);
		assert_int_equal(t.err.row, 200);
		assert_non_null(
		    strstr(t.err.msg, "missing ':' after this key"));
		/* row 100 was told of, row 201 is past the end */
		assert_int_equal(seen.n, 1);
		assert_int_equal(seen.rows[0], 100);
		/* the rows before the break are reported, none after */
		assert_int_equal(t.stats.rows, 199);
		expect_rows(&t, 199);
		assert_int_equal(count_status(&t, "not-attempted"), 199);
		assert_non_null(strstr(str_of(row_of(&t, 1), "error"),
				       "broken.jsonl:200:22: row 200: "));
		assert_int_equal(files_in(t.outbox), 0);
		t_free(&t);
	}
}

/* A run whose stop flag is already up takes no row. */
static void test_interrupted_before_start(void **state)
{
	static volatile sig_atomic_t flag = 1;
	struct t_run t;

	(void)state;
	write_file("m.eml", welcome);
	write_list("list.csv", 50);
	t_init(&t, "m.eml", "list.csv");
	t.cfg.outbox_dir = t.outbox;
	t.cfg.interrupt = &flag;
	assert_int_equal(t_go(&t), HD_EINTERRUPTED);
	expect_rows(&t, 50);
	assert_int_equal(
	    count_status(&t, "sent") + count_status(&t, "not-attempted"), 50);
	assert_int_equal(t.stats.sent + t.stats.not_attempted, 50);
	t_free(&t);
}

static void test_http_dry_run(void **state)
{
	struct t_run t;

	(void)state;
	write_file("hook.http", "POST https://hooks.example/{{team}}\n"
				"Content-Type: application/json\n"
				"\n"
				"{\"text\": \"Hello {{name}}\"}\n");
	write_file("list.jsonl", "{\"id\": 1, \"team\": \"a\", \"name\": "
				 "\"Ann\"}\n"
				 "{\"id\": 2, \"team\": \"b\", \"name\": "
				 "\"Bob\"}\n");
	t_init(&t, "hook.http", "list.jsonl");
	t.cfg.dry_run = 1;
	assert_int_equal(t_go(&t), HD_OK);
	expect_rows(&t, 2);
	expect_status(&t, 1, "dry-run");
	expect_status(&t, 2, "dry-run");
	t_free(&t);
}

static void test_render(void **state)
{
	struct t_run t;
	char *data = NULL, *env = NULL;
	size_t len = 0;

	(void)state;
	write_file("m.eml", welcome);
	write_list("list.csv", 3);
	t_init(&t, "m.eml", "list.csv");
	assert_int_equal(hd_render(&t.cfg, 2, NULL, &data, &len, &env, &t.err),
			 HD_OK);
	assert_non_null(strstr(data, "Subject: Hello Person 2\r\n"));
	assert_non_null(strstr(env, "RCPT TO:<p2@example.com>"));
	free(data);
	free(env);
	assert_int_equal(hd_render(&t.cfg, 9, NULL, &data, &len, &env, &t.err),
			 HD_EINVAL);
	t_free(&t);
}

/* ---- SMTP -------------------------------------------------------------- */

struct t_srv {
	struct spawn_server sp;
	char spool[PATH_MAX + 16];
	char url[80];
};

static void srv_start(struct t_srv *s, ...)
{
	char pf[PATH_MAX + 16], stats[PATH_MAX + 16], script[PATH_MAX];
	char name[32];
	char *argv[32];
	int argc = 0;
	va_list ap;
	const char *a;

	if (!g_have_smtp)
		skip();
	snprintf(script, sizeof(script), "%s/tests/servers/smtp_server.py",
		 spawn_src_dir());
	path_in(pf, sizeof(pf), "port");
	snprintf(name, sizeof(name), "spool%d", ++g_nserver);
	path_in(s->spool, sizeof(s->spool), name);
	path_in(stats, sizeof(stats), "stats.json");
	argv[argc++] = PYTHON;
	argv[argc++] = script;
	argv[argc++] = "--port-file";
	argv[argc++] = pf;
	argv[argc++] = "--spool";
	argv[argc++] = s->spool;
	argv[argc++] = "--stats";
	argv[argc++] = stats;
	va_start(ap, s);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 30)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(spawn_server_start(&s->sp, argv, pf, 15000), 0);
	g_server = s->sp.pid;
	snprintf(s->url, sizeof(s->url), "smtp://127.0.0.1:%d", s->sp.port);
}

static void srv_stop(struct t_srv *s)
{
	g_server = 0;
	assert_int_equal(spawn_server_stop(&s->sp), 0);
}

/* Messages the server accepted (its spool holds NNNNNN.eml + .json). */
static long spooled(const struct t_srv *s)
{
	return files_in(s->spool) / 2;
}

static void test_smtp_outcomes(void **state)
{
	struct t_srv s;
	struct t_run t;
	json_t *o;

	(void)state;
	write_file("m.eml", welcome);
	write_file("list.csv", "name,email\n"
			       "Ann,ann@example.com\n"
			       "Bob,bob@refused.example\n"
			       "Cy,cy@example.com\n"
			       "Di,di@example.com\n");
	srv_start(&s, "--reject-rcpt", ".*@refused\\.example:550",
		  "--fail-first", "1:451", NULL);
	t_init(&t, "m.eml", "list.csv");
	t.cfg.smtp_url = s.url;
	t.cfg.concurrency = 2;
	t.cfg.backoff_ms = 1;
	assert_int_equal(t_go(&t), HD_OK);
	srv_stop(&s);
	expect_rows(&t, 4);
	expect_status(&t, 1, "sent");
	expect_status(&t, 2, "failed");
	expect_status(&t, 3, "sent");
	expect_status(&t, 4, "sent");
	o = row_of(&t, 2);
	assert_string_equal(str_of(o, "failure"), "permanent");
	assert_int_equal(json_integer_value(json_object_get(o, "code")), 550);
	assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 1);
	o = row_of(&t, 1);
	assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 2);
	assert_int_equal(json_integer_value(json_object_get(o, "code")), 250);
	assert_int_equal(spooled(&s), 3);
	assert_int_equal(t.stats.sent, 3);
	assert_int_equal(t.stats.failed, 1);
	assert_int_equal(t.stats.attempts, 7);
	t_free(&t);
}

/* Nothing listens: every row is reported, the run ends. */
static void test_smtp_unreachable(void **state)
{
	struct t_run t;
	char url[64];
	int port;

	(void)state;
	if (!g_have_smtp)
		skip();
	/* a port that was free a moment ago: bind, read it, close */
	{
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)),
				 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl),
				 0);
		port = ntohs(sa.sin_port);
		close(fd);
	}
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	write_file("m.eml", welcome);
	write_list("list.csv", 12);
	t_init(&t, "m.eml", "list.csv");
	t.cfg.smtp_url = url;
	t.cfg.concurrency = 2;
	t.cfg.retries = 0;
	t.cfg.max_failures = 3;
	assert_int_equal(t_go(&t), HD_EINTERRUPTED);
	expect_rows(&t, 12);
	assert_int_equal(count_status(&t, "sent"), 0);
	assert_true(count_status(&t, "failed") >= 3);
	assert_int_equal(
	    count_status(&t, "failed") + count_status(&t, "not-attempted"), 12);
	t_free(&t);
}

/* ---- keys -------------------------------------------------------------- */

/* Two people who share a name are two; one address in two spellings is
 * one, whatever the column is called. */
static void test_default_key_email(void **state)
{
	static const char *const headers[] = {"Email", "E-Mail", "EMAIL",
					      "mail_address"};
	char list[256];
	struct t_run t;

	(void)state;
	write_file("m.eml", "From: Acme <noreply@acme.example>\n"
			    "To: {{Name}} <{{addr}}>\n"
			    "Subject: Hi\n\nHello {{Name}}.\n");
	for (size_t h = 0; h < sizeof(headers) / sizeof(headers[0]); h++) {
		snprintf(list, sizeof(list),
			 "Name,%s\n"
			 "Ann Lee,ann.lee@example.com\n"
			 "Ann Lee,ann.lee2@example.com\n"
			 "Bo,Bo@Example.COM\n"
			 "Bo again,bo@example.com\n",
			 headers[h]);
		write_file("list.csv", list);
		write_file("m.eml", "From: Acme <noreply@acme.example>\n");
		snprintf(list, sizeof(list),
			 "From: Acme <noreply@acme.example>\n"
			 "To: {{Name}} <{{%s}}>\n"
			 "Subject: Hi\n\nHello {{Name}}.\n",
			 headers[h]);
		write_file("m.eml", list);
		t_init(&t, "m.eml", "list.csv");
		t.cfg.campaign = NULL;
		t.cfg.dry_run = 1;
		assert_int_equal(t_go(&t), HD_OK);
		expect_rows(&t, 4);
		expect_status(&t, 1, "dry-run");
		expect_status(&t, 2, "dry-run");
		expect_status(&t, 3, "dry-run");
		expect_status(&t, 4, "skipped");
		assert_string_equal(str_of(row_of(&t, 3), "key"),
				    "Bo@example.com");
		assert_non_null(
		    strstr(str_of(row_of(&t, 4), "error"), "duplicate"));
		t_free(&t);
	}
}

/* .http: an id field in any case, else the whole record. */
static void test_default_key_http(void **state)
{
	struct t_run t;

	(void)state;
	write_file("hook.http", "POST https://hooks.example/x\n"
				"Content-Type: application/json\n"
				"\n"
				"{\"text\": \"Hello {{name}}\"}\n");
	write_file("ids.jsonl", "{\"ID\": 7, \"name\": \"Ann\"}\n"
				"{\"ID\": 8, \"name\": \"Ann\"}\n"
				"{\"ID\": 7, \"name\": \"Ann\"}\n");
	t_init(&t, "hook.http", "ids.jsonl");
	t.cfg.dry_run = 1;
	assert_int_equal(t_go(&t), HD_OK);
	expect_status(&t, 1, "dry-run");
	expect_status(&t, 2, "dry-run");
	expect_status(&t, 3, "skipped");
	assert_string_equal(str_of(row_of(&t, 1), "key"), "7");
	t_free(&t);

	write_file("rec.jsonl", "{\"team\": \"a\", \"name\": \"Ann\"}\n"
				"{\"team\": \"b\", \"name\": \"Ann\"}\n"
				"{\"name\": \"Ann\", \"team\": \"a\"}\n");
	t_init(&t, "hook.http", "rec.jsonl");
	t.cfg.dry_run = 1;
	assert_int_equal(t_go(&t), HD_OK);
	expect_status(&t, 1, "dry-run");
	expect_status(&t, 2, "dry-run");
	/* the same record with its fields in another order is the same */
	expect_status(&t, 3, "skipped");
	assert_string_equal(str_of(row_of(&t, 1), "key"),
			    "{\"name\":\"Ann\",\"team\":\"a\"}");
	t_free(&t);
}

/* ---- the journal ------------------------------------------------------- */

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_journal_rerun(void **state)
{
	struct t_srv s;
	struct t_run t;
	char journal[PATH_MAX + 64], mid[128];
	long size;

	(void)state;
	path_in(journal, sizeof(journal), "j.jsonl");
	write_file("m.eml", welcome);
	write_list("list.csv", 12);
	/* rows 3 and 7 are refused at first */
	srv_start(&s, "--reject-rcpt", "p[37]@example\\.com:451", NULL);
	t_init(&t, "m.eml", "list.csv");
	t.cfg.campaign = NULL; /* the journal keeps one */
	t.cfg.smtp_url = s.url;
	t.cfg.retries = 0;
	t.cfg.journal_path = journal;
	assert_int_equal(t_go(&t), HD_OK);
	srv_stop(&s);
	assert_int_equal(t.stats.sent, 10);
	assert_int_equal(t.stats.failed, 2);
	snprintf(mid, sizeof(mid), "%s", str_of(row_of(&t, 3), "message_id"));
	t_free(&t);

	/* the rerun sends just those two, with the same Message-IDs */
	srv_start(&s, NULL);
	t_init(&t, "m.eml", "list.csv");
	t.cfg.campaign = NULL;
	t.cfg.smtp_url = s.url;
	t.cfg.journal_path = journal;
	assert_int_equal(t_go(&t), HD_OK);
	expect_rows(&t, 12);
	for (long i = 1; i <= 12; i++)
		expect_status(&t, i, i == 3 || i == 7 ? "sent" : "skipped");
	assert_true(
	    strncmp(str_of(row_of(&t, 1), "error"), "sent earlier, ", 14) == 0);
	assert_string_equal(str_of(row_of(&t, 3), "message_id"), mid);
	assert_int_equal(spooled(&s), 2);
	assert_int_equal(t.stats.total, 2);
	t_free(&t);

	/* nothing to do: the journal does not grow */
	size = file_size(journal);
	t_init(&t, "m.eml", "list.csv");
	t.cfg.campaign = NULL;
	t.cfg.smtp_url = s.url;
	t.cfg.journal_path = journal;
	assert_int_equal(t_go(&t), HD_OK);
	assert_int_equal(t.stats.skipped, 12);
	assert_int_equal(file_size(journal), size);
	t_free(&t);
	srv_stop(&s);
	assert_int_equal(spooled(&s), 2);
}

/* A journal left by a crash: the row in flight is uncertain. */
static void test_journal_uncertain(void **state)
{
	char journal[PATH_MAX + 64], text[1024];
	struct t_run t;
	FILE *fp;

	(void)state;
	path_in(journal, sizeof(journal), "j.jsonl");
	write_file("m.eml", welcome);
	write_list("list.csv", 4);
	snprintf(text, sizeof(text),
		 "{\"herald_journal\":1,\"campaign\":\"crashed\"}\n"
		 "{\"start\":1,\"key\":\"p1@example.com\",\"attempt\":1,"
		 "\"at\":\"2026-12-03T09:00:00.000Z\"}\n"
		 "{\"start\":2,\"key\":\"p2@example.com\",\"attempt\":1,"
		 "\"at\":\"2026-12-03T09:00:00.000Z\"}\n"
		 "{\"end\":1,\"key\":\"p1@example.com\",\"status\":\"sent\","
		 "\"at\":\"2026-12-03T09:00:01.000Z\"}\n"
		 "{\"start\":3,\"key\":\"p3@example.com\",\"attempt\":1,"
		 "\"at\":\"2026-12-03T09:00:00.000Z\"}\n"
		 "{\"retry\":3,\"key\":\"p3@example.com\",\"attempt\":1,"
		 "\"at\":\"2026-12-03T09:00:00.000Z\"}\n"
		 "{\"start\":4,\"key\":\"p4@ex");
	fp = fopen(journal, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);

	/* skip: row 2 is held back, reported uncertain */
	t_init(&t, "m.eml", "list.csv");
	t.cfg.campaign = NULL;
	t.cfg.outbox_dir = t.outbox;
	t.cfg.journal_path = journal;
	t.cfg.on_uncertain_skip = 1;
	assert_int_equal(t_go(&t), HD_OK);
	expect_status(&t, 1, "skipped");
	expect_status(&t, 2, "uncertain");
	expect_status(&t, 3, "sent"); /* its attempt ended: not delivered */
	expect_status(&t, 4, "sent"); /* its start was torn: never went */
	assert_non_null(strstr(str_of(row_of(&t, 2), "error"),
			       "held back (--on-uncertain skip): a send "
			       "started at 2026-12-03T09:00:00.000Z"));
	assert_int_equal(t.stats.held, 1);
	assert_int_equal(t.stats.uncertain, 1);
	assert_int_equal(files_in(t.outbox), 2);
	t_free(&t);

	/* resend (the default): row 2 goes, and is counted as resent */
	t_init(&t, "m.eml", "list.csv");
	t.cfg.campaign = NULL;
	t.cfg.outbox_dir = t.outbox;
	t.cfg.journal_path = journal;
	assert_int_equal(t_go(&t), HD_OK);
	expect_status(&t, 1, "skipped");
	expect_status(&t, 2, "sent");
	expect_status(&t, 3, "skipped");
	expect_status(&t, 4, "skipped");
	assert_int_equal(t.stats.resent, 1);
	assert_true(strncmp(str_of(row_of(&t, 2), "message_id"), "<", 1) == 0);
	t_free(&t);

	/* a journal of another campaign is refused */
	t_init(&t, "m.eml", "list.csv");
	t.cfg.campaign = "another";
	t.cfg.outbox_dir = t.outbox;
	t.cfg.journal_path = journal;
	assert_int_equal(t_go(&t), HD_EUSAGE);
	t_free(&t);
}

/* --only-failed takes what an earlier report lists as not delivered. */
static void test_only_failed(void **state)
{
	char earlier[PATH_MAX + 64];
	struct t_run t;

	(void)state;
	write_file("m.eml", welcome);
	write_list("list.csv", 6);
	write_file(
	    "earlier.jsonl",
	    "{\"row\":1,\"key\":\"p1@example.com\",\"status\":\"sent\"}\n"
	    "{\"row\":2,\"key\":\"P2@Example.com\",\"status\":\"failed\"}\n"
	    "{\"row\":3,\"key\":\"p3@example.com\",\"status\":"
	    "\"not-attempted\"}\n"
	    "{\"row\":4,\"key\":\"p4@example.com\",\"status\":\"uncertain\"}\n"
	    "{\"row\":5,\"key\":\"p5@example.com\",\"status\":\"skipped\"}\n"
	    "{\"row\":null,\"key\":null,\"status\":\"not-attempted\"}\n");
	path_in(earlier, sizeof(earlier), "earlier.jsonl");
	t_init(&t, "m.eml", "list.csv");
	t.cfg.dry_run = 1;
	t.cfg.only_failed = earlier;
	assert_int_equal(t_go(&t), HD_OK);
	expect_rows(&t, 6);
	expect_status(&t, 1, "skipped");
	expect_status(&t, 2, "dry-run");
	expect_status(&t, 3, "dry-run");
	expect_status(&t, 4, "dry-run");
	expect_status(&t, 5, "skipped");
	expect_status(&t, 6, "skipped");
	assert_non_null(strstr(str_of(row_of(&t, 1), "error"), "not failed"));
	t_free(&t);

	t_init(&t, "m.eml", "list.csv");
	t.cfg.dry_run = 1;
	t.cfg.only_failed = earlier;
	t.cfg.on_uncertain_skip = 1;
	assert_int_equal(t_go(&t), HD_OK);
	expect_status(&t, 4, "uncertain");
	t_free(&t);

	/* a CSV report: formula-guarded cells are read back as written */
	write_file("earlier.csv", "row,key,status,attempts\n"
				  "1,p1@example.com,failed,1\n"
				  "2,'-p2@example.com,failed,1\n");
	write_file("list2.csv", "name,email\nA,p1@example.com\n"
				"B,-p2@example.com\nC,p3@example.com\n");
	path_in(earlier, sizeof(earlier), "earlier.csv");
	t_init(&t, "m.eml", "list2.csv");
	t.cfg.dry_run = 1;
	t.cfg.only_failed = earlier;
	assert_int_equal(t_go(&t), HD_OK);
	expect_status(&t, 1, "dry-run");
	expect_status(&t, 2, "dry-run");
	expect_status(&t, 3, "skipped");
	t_free(&t);

	path_in(earlier, sizeof(earlier), "no-such-report.jsonl");
	t_init(&t, "m.eml", "list.csv");
	t.cfg.dry_run = 1;
	t.cfg.only_failed = earlier;
	assert_int_equal(t_go(&t), HD_ENOENT);
	t_free(&t);
}

/* ---- due times --------------------------------------------------------- */

static void test_due_times(void **state)
{
	struct t_run t;

	(void)state;
	write_file("m.eml", welcome);
	write_file("list.jsonl",
		   "{\"name\":\"A\",\"email\":\"a@x.example\",\"send_at\":"
		   "\"2020-01-01T00:00:00Z\"}\n"
		   "{\"name\":\"B\",\"email\":\"b@x.example\",\"send_at\":"
		   "\"2999-01-01T00:00:00+01:00\"}\n"
		   "{\"name\":\"C\",\"email\":\"c@x.example\"}\n"
		   "{\"name\":\"D\",\"email\":\"d@x.example\",\"send_at\":"
		   "\"2020-06-01 10:00:00.250-07:00\"}\n"
		   "{\"name\":\"E\",\"email\":\"e@x.example\",\"send_at\":"
		   "\"\"}\n");
	t_init(&t, "m.eml", "list.jsonl");
	t.cfg.dry_run = 1;
	assert_int_equal(t_go(&t), HD_OK);
	expect_status(&t, 1, "dry-run");
	expect_status(&t, 2, "skipped");
	expect_status(&t, 3, "dry-run");
	expect_status(&t, 4, "dry-run");
	expect_status(&t, 5, "dry-run");
	assert_string_equal(str_of(row_of(&t, 2), "error"),
			    "not due until 2999-01-01T00:00:00+01:00");
	assert_int_equal(t.stats.total, 4);
	t_free(&t);

	write_file("bad.jsonl",
		   "{\"name\":\"A\",\"email\":\"a@x.example\",\"send_at\":"
		   "\"tomorrow\"}\n"
		   "{\"name\":\"B\",\"email\":\"b@x.example\",\"send_at\":"
		   "\"2026-02-30T00:00:00Z\"}\n");
	t_init(&t, "m.eml", "bad.jsonl");
	t.cfg.dry_run = 1;
	assert_int_equal(t_go(&t), HD_EINVALIDROWS);
	expect_status(&t, 1, "invalid");
	expect_status(&t, 2, "invalid");
	assert_non_null(
	    strstr(str_of(row_of(&t, 1), "error"), "field 'send_at'"));
	t_free(&t);
}

/* ---- outputs never overwrite inputs ----------------------------------- */

static void expect_usage_untouched(struct t_run *t, const char *input)
{
	long before = file_size(input);

	assert_int_equal(t_go(t), HD_EUSAGE);
	assert_int_equal(file_size(input), before);
	t_free(t);
}

static void test_outputs_are_not_inputs(void **state)
{
	char link[PATH_MAX + 64], extra[PATH_MAX + 64];
	struct t_run t;

	(void)state;
	write_file("m.eml", welcome);
	write_list("list.csv", 3);

	t_init(&t, "m.eml", "list.csv");
	t.cfg.report_path = t.list;
	expect_usage_untouched(&t, t.list);

	t_init(&t, "m.eml", "list.csv");
	t.cfg.report_path = t.tmpl;
	expect_usage_untouched(&t, t.tmpl);

	t_init(&t, "m.eml", "list.csv");
	t.cfg.journal_path = t.tmpl;
	expect_usage_untouched(&t, t.tmpl);

	/* through a symlink */
	path_in(link, sizeof(link), "link.jsonl");
	assert_int_equal(symlink(t.list, link), 0);
	t_init(&t, "m.eml", "list.csv");
	t.cfg.report_path = link;
	expect_usage_untouched(&t, t.list);

	/* the report and the journal the same new file */
	t_init(&t, "m.eml", "list.csv");
	path_in(extra, sizeof(extra), "same.jsonl");
	t.cfg.report_path = extra;
	t.cfg.journal_path = extra;
	assert_int_equal(t_go(&t), HD_EUSAGE);
	assert_int_equal(access(extra, F_OK), -1);
	t_free(&t);

	/* a partial and an attachment */
	write_file("p.eml", "From: Acme <noreply@acme.example>\n"
			    "To: {{name}} <{{email}}>\n"
			    "Subject: Hi\n"
			    "Herald-Attach: doc.txt\n"
			    "\n"
			    "{{> footer.txt}}\n");
	write_file("footer.txt", "-- \nAcme\n");
	write_file("doc.txt", "a document\n");
	t_init(&t, "p.eml", "list.csv");
	path_in(extra, sizeof(extra), "footer.txt");
	t.cfg.report_path = extra;
	expect_usage_untouched(&t, extra);
	t_init(&t, "p.eml", "list.csv");
	path_in(extra, sizeof(extra), "doc.txt");
	t.cfg.report_path = extra;
	expect_usage_untouched(&t, extra);

	/* the recipients inside the outbox */
	t_init(&t, "m.eml", "list.csv");
	t.cfg.outbox_dir = g_dir;
	expect_usage_untouched(&t, t.list);

	/* an earlier report read by --only-failed */
	write_file("old.jsonl",
		   "{\"row\":1,\"key\":\"p1@example.com\",\"status\":"
		   "\"failed\"}\n");
	t_init(&t, "m.eml", "list.csv");
	path_in(extra, sizeof(extra), "old.jsonl");
	t.cfg.only_failed = extra;
	t.cfg.report_path = extra;
	expect_usage_untouched(&t, extra);
}

/* A run that cannot start replaces the old report with one that says
 * so: never a stale report that looks current. */
static void test_failed_start_report(void **state)
{
	struct t_run t;
	const char *err;

	(void)state;
	write_list("list.csv", 3);
	write_file("broken.eml", "From: Acme <noreply@acme.example>\n"
				 "To: {{name}} <{{email}}>\n"
				 "Subject: {{#open}}\n\nHi\n");
	write_file("report.jsonl", "{\"row\":1,\"status\":\"sent\"}\n");
	t_init(&t, "broken.eml", "list.csv");
	assert_int_equal(t_go(&t), HD_ETEMPLATE);
	expect_rows(&t, 3);
	assert_int_equal(count_status(&t, "not-attempted"), 3);
	err = str_of(row_of(&t, 2), "error");
	assert_non_null(strstr(err, "broken.eml:3"));
	t_free(&t);

	t_init(&t, "broken.eml", "missing.csv");
	assert_int_equal(t_go(&t), HD_ENOENT);
	assert_int_equal(json_array_size(t.rows), 1);
	assert_true(
	    json_is_null(json_object_get(json_array_get(t.rows, 0), "row")));
	assert_non_null(
	    strstr(str_of(json_array_get(t.rows, 0), "error"), "missing.csv"));
	t_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dry_run_every_row, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_outbox_sends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_skip_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicates_skipped, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_refuses, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_broken_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_jsonl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupted_before_start,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http_dry_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_render, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_smtp_outcomes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_smtp_unreachable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_default_key_email, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_default_key_http, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_journal_rerun, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_journal_uncertain, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_only_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_due_times, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outputs_are_not_inputs, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_failed_start_report, setup,
					    teardown),
	};
	int rc;

	if (spawn_mkdtemp(g_tmp, sizeof(g_tmp), "test_run") != 0)
		return 1;
	g_have_smtp = access(PYTHON, X_OK) == 0 &&
		      system(PYTHON " -c 'import aiosmtpd' 2>/dev/null") == 0;
	if (!g_have_smtp)
		fprintf(stderr,
			"SKIPPING the SMTP tests: %s with aiosmtpd is "
			"not installed\n",
			PYTHON);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	spawn_rmtree(g_tmp);
	return rc;
}

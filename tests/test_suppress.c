/* test_suppress.c — the suppression list (lib/suppress.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "dedupe.h"
#include "suppress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static hd_suppress *load(const char *text)
{
	hd_suppress *s = NULL;
	hd_error e;

	assert_int_equal(
	    hd__suppress_load(tmpdir_write("l.txt", text, strlen(text), 0644),
			      &s, &e),
	    HD_OK);
	return s;
}

static int has(const hd_suppress *s, const char *key)
{
	return hd__suppress_has(s, key, strlen(key));
}

static void the_file_format(void **state)
{
	hd_suppress *s = load("# unsubscribed\n"
			      "ann@example.com\n"
			      "\n"
			      "   Bob@Example.COM  \r\n"
			      "\t# indented comment\n"
			      "#\n"
			      "#team@example.com\n"
			      "#note\n"
			      "customer-42\n"
			      "Customer-43\n"
			      "last-without-newline");

	(void)state;
	assert_int_equal(hd__suppress_count(s), 7);
	assert_int_equal(has(s, "ann@example.com"), 1);
	/* addresses: case-insensitive as a whole */
	assert_int_equal(has(s, "ANN@EXAMPLE.COM"), 1);
	assert_int_equal(has(s, "bob@example.com"), 1);
	assert_int_equal(has(s, "#team@example.com"), 1);
	assert_int_equal(has(s, "#TEAM@example.com"), 1);
	/* other keys: exact */
	assert_int_equal(has(s, "customer-42"), 1);
	assert_int_equal(has(s, "Customer-42"), 0);
	assert_int_equal(has(s, "Customer-43"), 1);
	assert_int_equal(has(s, "customer-43"), 0);
	assert_int_equal(has(s, "last-without-newline"), 1);
	/* comments and near misses are not entries */
	assert_int_equal(has(s, "# unsubscribed"), 0);
	assert_int_equal(has(s, "#"), 0);
	assert_int_equal(has(s, "ann@example.co"), 0);
	assert_int_equal(has(s, "nn@example.com"), 0);
	assert_int_equal(has(s, " ann@example.com"), 0);
	assert_int_equal(has(s, ""), 0);
	assert_int_equal(hd__suppress_has(NULL, "x", 1), 0);
	hd__suppress_free(s);
	hd__suppress_free(NULL);
	s = load("");
	assert_int_equal(hd__suppress_count(s), 0);
	assert_int_equal(has(s, "ann@example.com"), 0);
	hd__suppress_free(s);
}

static void bad_files(void **state)
{
	hd_suppress *s = (hd_suppress *)1;
	hd_error e;
	char *big = malloc(5000);

	(void)state;
	assert_int_equal(hd__suppress_load(tmpdir_path("missing.txt"), &s, &e),
			 HD_ENOENT);
	assert_null(s);
	assert_non_null(strstr(e.msg, "create an empty file"));
	assert_int_equal(hd__suppress_load(dir, &s, &e), HD_ENOENT);
	/* a long line, on line 3 */
	memset(big, 'x', 4999);
	big[0] = 'a';
	big[1] = '\n';
	big[2] = 'b';
	big[3] = '\n';
	big[4999] = '\0';
	assert_int_equal(
	    hd__suppress_load(tmpdir_write("long.txt", big, strlen(big), 0644),
			      &s, &e),
	    HD_EPARSE);
	assert_int_equal(e.line, 3);
	assert_string_equal(e.file, tmpdir_path("long.txt"));
	/* a long comment is fine */
	big[4] = '#';
	big[5] = ' ';
	assert_int_equal(
	    hd__suppress_load(tmpdir_write("longc.txt", big, strlen(big), 0644),
			      &s, &e),
	    HD_OK);
	assert_int_equal(hd__suppress_count(s), 2);
	hd__suppress_free(s);
	/* binary data */
	assert_int_equal(
	    hd__suppress_load(tmpdir_write("bin.txt", "a\nb\0c\n", 6, 0644), &s,
			      &e),
	    HD_EPARSE);
	assert_int_equal(e.line, 2);
	free(big);
}

/* Two keys whose 32-bit hashes (what the table keeps) are equal: one on
 * the list must not suppress the other. */
static void no_false_positive_on_collision(void **state)
{
	enum { BITS = 20 };
	uint32_t *seen = calloc((size_t)1 << BITS, sizeof(uint32_t));
	char a[32] = "", b[32] = "", text[80];
	hd_suppress *s;

	(void)state;
	/* a birthday search: ~2^16 keys find two equal 32-bit hashes */
	for (uint32_t i = 1; i < 5000000 && !a[0]; i++) {
		char k[32];
		uint32_t h;
		snprintf(k, sizeof(k), "k%u", i);
		h = (uint32_t)(hd_key_hash(k, strlen(k)) >> 32);
		for (uint32_t slot = h >> (32 - BITS);;
		     slot = (slot + 1) & ((1u << BITS) - 1)) {
			uint32_t j = seen[slot];
			char o[32];
			if (!j) {
				seen[slot] = i;
				break;
			}
			snprintf(o, sizeof(o), "k%u", j);
			if ((uint32_t)(hd_key_hash(o, strlen(o)) >> 32) == h) {
				snprintf(a, sizeof(a), "%s", o);
				snprintf(b, sizeof(b), "%s", k);
				break;
			}
		}
	}
	free(seen);
	assert_true(a[0] && b[0]);
	snprintf(text, sizeof(text), "%s\n", a);
	s = load(text);
	assert_int_equal(has(s, a), 1);
	assert_int_equal(has(s, b), 0);
	hd__suppress_free(s);
	/* both on the list: both found */
	snprintf(text, sizeof(text), "%s\n%s\n", b, a);
	s = load(text);
	assert_int_equal(has(s, a), 1);
	assert_int_equal(has(s, b), 1);
	hd__suppress_free(s);
}

static char *read_all(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, (1 << 20) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void appending(void **state)
{
	const char *p = tmpdir_path("add.txt");
	char *text;
	hd_error e;
	struct stat st;
	hd_suppress *s;
	static const char *const refused[] = {
	    "",		 " lead",  "trail ", "a\nb", "a\rb",
	    "tab\there", "# note", "#",	     "\x7f",
	};

	(void)state;
	unlink(p);
	assert_int_equal(hd__suppress_add(p, "ann@example.com", &e), HD_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0007, 0);
	text = read_all(p);
	assert_string_equal(text, "ann@example.com\n");
	free(text);
	/* a hand-edited last line without its line end */
	tmpdir_write("add.txt", "# mine\nbob@example.com", 22, 0644);
	assert_int_equal(hd__suppress_add(p, "#team@example.com", &e), HD_OK);
	text = read_all(p);
	assert_string_equal(text,
			    "# mine\nbob@example.com\n#team@example.com\n");
	free(text);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(hd__suppress_add(p, refused[i], &e),
				 HD_EINVAL);
	assert_int_equal(hd__suppress_add(p, NULL, &e), HD_EINVAL);
	assert_int_equal(hd__suppress_add("/nonexistent/dir/x", "a", &e),
			 HD_ECREATE);
	assert_int_equal(hd__suppress_load(p, &s, &e), HD_OK);
	assert_int_equal(has(s, "bob@example.com"), 1);
	assert_int_equal(has(s, "#team@example.com"), 1);
	hd__suppress_free(s);
}

/* Many processes appending at once: every line whole, none lost. */
static void concurrent_appends(void **state)
{
	enum { PROCS = 8, EACH = 100 };
	const char *p = tmpdir_path("many.txt");
	char *text, want[64];
	hd_suppress *s;
	hd_error e;
	size_t lines = 0;

	(void)state;
	unlink(p);
	for (int c = 0; c < PROCS; c++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			for (int i = 0; i < EACH; i++) {
				char key[64];
				snprintf(key, sizeof(key),
					 "writer%d-%03d-a-longer-key-to-make-"
					 "interleaving-visible@example.com",
					 c, i);
				if (hd__suppress_add(p, key, NULL) != HD_OK)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int c = 0; c < PROCS; c++) {
		int status = 0;
		wait(&status);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	text = read_all(p);
	for (char *q = text; *q; q++)
		lines += *q == '\n';
	free(text);
	assert_int_equal(lines, PROCS * EACH);
	assert_int_equal(hd__suppress_load(p, &s, &e), HD_OK);
	assert_int_equal(hd__suppress_count(s), PROCS * EACH);
	for (int c = 0; c < PROCS; c++)
		for (int i = 0; i < EACH; i++) {
			snprintf(want, sizeof(want),
				 "writer%d-%03d-a-longer-key-to-make-"
				 "interleaving-visible@example.com",
				 c, i);
			assert_int_equal(has(s, want), 1);
		}
	hd__suppress_free(s);
}

/* Appends after a load neither show nor disturb it. */
static void appends_after_load(void **state)
{
	hd_suppress *s = load("a@example.com\nb@example.com\n");
	hd_error e;

	(void)state;
	assert_int_equal(
	    hd__suppress_add(tmpdir_path("l.txt"), "c@example.com", &e), HD_OK);
	assert_int_equal(has(s, "a@example.com"), 1);
	assert_int_equal(has(s, "b@example.com"), 1);
	assert_int_equal(has(s, "c@example.com"), 0);
	hd__suppress_free(s);
}

static void reply_means_gone(void **state)
{
	static const struct {
		long code;
		const char *reply;
		int gone;
	} cases[] = {
	    {550,
	     "5.1.1 <x@example.com>: Recipient address rejected: User "
	     "unknown in virtual mailbox table",
	     1},
	    {550,
	     "5.1.1 The email account that you tried to reach does not "
	     "exist.",
	     1},
	    {554, "5.1.1 No such user", 1},
	    {550, "5.1.2 Host unknown", 1},
	    {550, "5.1.6 Mailbox moved", 1},
	    {556, "5.1.10 Recipient address has null MX", 1},
	    {550,
	     "5.2.1 The email account that you tried to reach is "
	     "disabled.",
	     1},
	    {550, "5.7.1 Message rejected as spam; user unknown", 0},
	    {550,
	     "5.7.515 Access denied, sending domain does not meet the "
	     "required authentication level",
	     0},
	    {552, "5.2.2 Mailbox full", 0},
	    {550, "5.1.3 Bad recipient address syntax", 0},
	    {550, "5.4.4 Unable to route", 0},
	    {550, "5.1.11 something new", 0},
	    {450, "4.1.1 User unknown (try later)", 0},
	    {421, "4.7.0 Too many connections", 0},
	    {250, "2.0.0 Ok", 0},
	    /* no enhanced code: the words decide, only for 550/551 */
	    {550, "User unknown", 1},
	    {550, "Requested action not taken: no such user here", 1},
	    {551, "User not local; mailbox does not exist", 1},
	    {550, "Requested action not taken: mailbox unavailable", 0},
	    {550, "Message rejected", 0},
	    {553, "no such user", 0},
	    {550, "", 0},
	    {550, NULL, 0},
	    /* not an enhanced code: a version-like text */
	    {550, "5.1.1x no such user", 1},
	    {550, "5.1.1000 odd", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = hd__suppress_reply_means_gone(cases[i].code,
							cases[i].reply);
		if (got != cases[i].gone)
			fail_msg("%ld %s: got %d", cases[i].code,
				 cases[i].reply ? cases[i].reply : "(null)",
				 got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_file_format),
	    cmocka_unit_test(bad_files),
	    cmocka_unit_test(no_false_positive_on_collision),
	    cmocka_unit_test(appending),
	    cmocka_unit_test(concurrent_appends),
	    cmocka_unit_test(appends_after_load),
	    cmocka_unit_test(reply_means_gone),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}

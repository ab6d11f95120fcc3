/* test_unsub.c — one-click unsubscribe tokens (lib/unsub_token.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "unsub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static hd_unsub_secret *secret(const char *name, const char *text)
{
	hd_unsub_secret *s = NULL;
	hd_error e;

	assert_int_equal(
	    hd__unsub_secret_load(tmpdir_write(name, text, strlen(text), 0600),
				  &s, &e),
	    HD_OK);
	return s;
}

static char *token(const hd_unsub_secret *s, const char *c, const char *k)
{
	hd_buf b = HD_BUF_INIT;

	assert_int_equal(hd__unsub_token(s, c, k, &b), HD_OK);
	return hd_buf_detach(&b, NULL);
}

static hd_status check(const hd_unsub_secret *s, const char *t, char **c,
		       char **k)
{
	return hd__unsub_check(s, t, strlen(t), c, k);
}

static void round_trip(void **state)
{
	hd_unsub_secret *s = secret("a", "0123456789abcdef0123456789abcdef\n");
	static const char *const keys[] = {
	    "ann@example.com", "customer-42", "Zoë Ünïcødé", "a.b/c?d#e f", "x",
	};
	char *c, *k, *t;

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		t = token(s, "spring-2026", keys[i]);
		/* one URL path segment: unreserved characters only */
		assert_int_equal(strncmp(t, "u1.", 3), 0);
		assert_int_equal(strspn(t,
					"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk"
					"lmnopqrstuvwxyz0123456789-_."),
				 strlen(t));
		assert_int_equal(check(s, t, &c, &k), HD_OK);
		assert_string_equal(c, "spring-2026");
		assert_string_equal(k, keys[i]);
		free(c);
		free(k);
		free(t);
	}
	/* stable: the same link on every run of a campaign */
	t = token(s, "c", "ann@example.com");
	c = token(s, "c", "ann@example.com");
	assert_string_equal(t, c);
	free(c);
	free(t);
	hd__unsub_secret_free(s);
}

static void forgeries(void **state)
{
	hd_unsub_secret *s = secret("b", "the first secret, long enough");
	hd_unsub_secret *other = secret("c", "another secret, long enough!");
	char *t = token(s, "camp", "ann@example.com"), *c = NULL, *k = NULL;
	char *mine = token(s, "camp", "bob@example.com");
	char forged[512];
	const char *dot;

	(void)state;
	/* another secret's token */
	{
		char *o = token(other, "camp", "ann@example.com");
		assert_int_equal(check(s, o, &c, &k), HD_EINVAL);
		assert_null(c);
		assert_null(k);
		free(o);
	}
	/* someone else's key with my MAC */
	dot = strrchr(mine, '.');
	snprintf(forged, sizeof(forged), "%.*s%s", (int)(strrchr(t, '.') - t),
		 t, dot);
	assert_int_equal(check(s, forged, &c, &k), HD_EINVAL);
	/* every single changed character is refused */
	for (size_t i = 0; i < strlen(t); i++) {
		char *x = strdup(t);
		x[i] = x[i] == 'A' ? 'B' : 'A';
		if (strcmp(x, t) != 0)
			assert_int_equal(check(s, x, &c, &k), HD_EINVAL);
		free(x);
	}
	/* cut, extended, malformed */
	{
		char *x = strndup(t, strlen(t) - 1);
		assert_int_equal(check(s, x, &c, &k), HD_EINVAL);
		free(x);
	}
	snprintf(forged, sizeof(forged), "%sA", t);
	assert_int_equal(check(s, forged, &c, &k), HD_EINVAL);
	assert_int_equal(check(s, "", &c, &k), HD_EINVAL);
	assert_int_equal(check(s, "u1.", &c, &k), HD_EINVAL);
	assert_int_equal(check(s, "u1...", &c, &k), HD_EINVAL);
	assert_int_equal(check(s, "u2.YQ.YQ.AAAAAAAAAAAAAAAAAAAAAA", &c, &k),
			 HD_EINVAL);
	assert_int_equal(check(s, "favicon.ico", &c, &k), HD_EINVAL);
	free(t);
	free(mine);
	hd__unsub_secret_free(s);
	hd__unsub_secret_free(other);
}

/* A key holding a line break is refused even with a good MAC: the server
 * writes keys into a file and a page. */
static void control_characters(void **state)
{
	hd_unsub_secret *s = secret("d", "0123456789abcdef0123456789abcdef");
	char *t = token(s, "c", "ann@example.com\nmallory@example.com");
	char *c, *k;

	(void)state;
	assert_int_equal(check(s, t, &c, &k), HD_EINVAL);
	free(t);
	hd__unsub_secret_free(s);
}

static void secret_files(void **state)
{
	hd_unsub_secret *s = NULL;
	hd_error e;
	char path[300];

	(void)state;
	assert_int_equal(
	    hd__unsub_secret_load(
		tmpdir_write("open", "0123456789abcdef01", 18, 0644), &s, &e),
	    HD_ECONFIG);
	assert_non_null(strstr(e.msg, "others"));
	assert_null(strstr(e.msg, "0123456789"));
	assert_int_equal(
	    hd__unsub_secret_load(tmpdir_write("short", "short\n\n", 7, 0600),
				  &s, &e),
	    HD_ECONFIG);
	assert_non_null(strstr(e.msg, "16"));
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(hd__unsub_secret_load(path, &s, &e), HD_ENOENT);
	/* the trailing line end is not part of the secret */
	{
		hd_unsub_secret *a = secret("e1", "0123456789abcdef0123\n");
		hd_unsub_secret *b = secret("e2", "0123456789abcdef0123");
		char *ta = token(a, "c", "k"), *tb = token(b, "c", "k");
		assert_string_equal(ta, tb);
		free(ta);
		free(tb);
		hd__unsub_secret_free(a);
		hd__unsub_secret_free(b);
	}
	hd__unsub_secret_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trip),
	    cmocka_unit_test(forgeries),
	    cmocka_unit_test(control_characters),
	    cmocka_unit_test(secret_files),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}

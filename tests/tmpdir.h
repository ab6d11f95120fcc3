/*
 * tmpdir.h — a scratch folder for a cmocka test program: made before the
 * group runs, removed after.  Include after cmocka.h.
 *
 *	cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
 *	... tmpdir_path("key.pem") ...
 *	... tmpdir_write("list.txt", text, len, 0600) ...
 */
#ifndef HERALD_TESTS_TMPDIR_H
#define HERALD_TESTS_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char dir[64];

static int tmpdir_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/herald-test-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int tmpdir_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* dir/name, in a static buffer: copy it before the next call. */
static inline const char *tmpdir_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* Writes text[0..n) to dir/name with mode; returns tmpdir_path(name). */
static inline const char *tmpdir_write(const char *name, const char *text,
				       size_t n, mode_t mode)
{
	const char *path = tmpdir_path(name);
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

#endif

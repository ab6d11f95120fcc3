/*
 * replay.c — runs a fuzz harness over files, without libFuzzer.
 *
 *	fuzz_replay_NAME PATH...
 *
 * Each PATH is a file, or a folder whose files are run in name order; a
 * folder that does not exist holds nothing.  The harness also runs once
 * on an empty input and once on each single byte 0..255 first, so even a
 * harness without kept crashers is exercised in every build.  A broken
 * promise aborts (fuzz_fail), a sanitizer report fails the same way;
 * otherwise the exit status is 0 and one line says how many inputs ran.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static long ran;

static void run_bytes(const uint8_t *p, size_t n)
{
	/* a copy of exactly n bytes, so ASan sees reads past the end */
	uint8_t *copy = calloc(1, n ? n : 1);

	if (!copy)
		fuzz_fail("out of memory");
	if (n)
		memcpy(copy, p, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	ran++;
}

static void run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!fp)
		fuzz_fail("cannot open %s: %s", path, strerror(errno));
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				fuzz_fail("out of memory");
		}
		got = fread(buf + len, 1, cap - len, fp);
		len += got;
	} while (got > 0);
	fclose(fp);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	run_bytes(buf, len);
	free(buf);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL, full[4096];
	size_t n = 0;

	if (stat(path, &st) != 0)
		return; /* no such folder: nothing kept */
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	d = opendir(path);
	if (!d)
		fuzz_fail("cannot read %s: %s", path, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (!names || !(names[n] = strdup(e->d_name)))
			fuzz_fail("out of memory");
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		snprintf(full, sizeof(full), "%s/%s", path, names[i]);
		run_file(full);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	run_bytes((const uint8_t *)"", 0);
	for (int c = 0; c < 256; c++) {
		uint8_t b = (uint8_t)c;
		run_bytes(&b, 1);
	}
	for (int i = 1; i < argc; i++)
		run_path(argv[i]);
	printf("%s: %ld inputs, no finding\n", argv[0], ran);
	return 0;
}

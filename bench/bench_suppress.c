/*
 * bench_suppress.c — memory and time of the suppression list at scale.
 *
 *   bench_suppress [ENTRIES] [PROBES]      (default 1000000 1000000)
 *
 * Writes a list of ENTRIES addresses (some in upper case, a comment every
 * thousand lines) to a temporary file, loads it, then probes PROBES
 * recipients of which every other one is on the list, and prints the
 * time of each step, the RSS before and after the load and the process's
 * peak RSS.  The memory goal for a whole run is 1,000,000 recipients in
 * 30 MB of peak RSS; the list must stay well inside it.  Asserts nothing.
 */
#include "suppress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size now, in KiB (from /proc/self/status). */
static long rss_kib(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (fp && fgets(line, sizeof(line), fp))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (fp)
		fclose(fp);
	return kib;
}

int main(int argc, char **argv)
{
	long entries = argc > 1 ? atol(argv[1]) : 1000000;
	long probes = argc > 2 ? atol(argv[2]) : 1000000;
	char path[] = "/tmp/herald-bench-suppress-XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
	hd_suppress *s = NULL;
	hd_error e;
	struct rusage ru;
	double t0, t_load, t_probe;
	long found = 0, errors = 0, rss0, rss1;
	char key[96];

	if (!fp) {
		perror("bench_suppress: temporary file");
		return 1;
	}
	/* the list holds the even-numbered users */
	for (long i = 0; i < entries; i++) {
		if (i % 1000 == 0)
			fprintf(fp, "# batch %ld\n", i / 1000);
		fprintf(fp,
			i % 7 ? "user%ld.person@example.com\n"
			      : "User%ld.Person@Example.COM\n",
			2 * i);
	}
	fclose(fp);
	rss0 = rss_kib();
	t0 = now();
	if (hd__suppress_load(path, &s, &e) != HD_OK) {
		char line[800];
		hd_error_format(&e, line, sizeof(line));
		fprintf(stderr, "bench_suppress: %s\n", line);
		unlink(path);
		return 1;
	}
	t_load = now() - t0;
	rss1 = rss_kib();
	t0 = now();
	for (long i = 0; i < probes; i++) {
		int v;
		snprintf(key, sizeof(key), "user%ld.person@example.com", i);
		v = hd__suppress_has(s, key, strlen(key));
		found += v == 1;
		errors += v < 0;
	}
	t_probe = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	printf("entries %ld (%zu loaded), load %.3f s; probes %ld, %ld "
	       "suppressed, %ld errors, %.3f s (%.2f us each)\n",
	       entries, hd__suppress_count(s), t_load, probes, found, errors,
	       t_probe, probes ? t_probe * 1e6 / (double)probes : 0.0);
	printf("rss before load %ld KiB, after load %ld KiB (list: %ld KiB, "
	       "%.1f bytes/entry); peak rss %ld KiB\n",
	       rss0, rss1, rss1 - rss0,
	       entries ? (double)(rss1 - rss0) * 1024.0 / (double)entries : 0.0,
	       ru.ru_maxrss);
	hd__suppress_free(s);
	unlink(path);
	return 0;
}

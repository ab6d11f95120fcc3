/*
 * runstat.c — run one command and say what it cost: wall time, CPU time
 * and peak memory of the whole process tree it starts.
 *
 *   runstat [-T SECONDS] [-s MS] [-o FILE] -- COMMAND [ARG...]
 *
 * Prints one line (to FILE, else to stderr) once the command and every
 * process it started have ended:
 *
 *   wall=1.234567 user=0.812000 sys=0.301000 maxrss_kb=15360
 *   tree_rss_kb=15872 status=0
 *
 * wall     from fork to the last descendant reaped (CLOCK_MONOTONIC)
 * user/sys CPU seconds of every process of the tree: runstat makes itself
 *          a child subreaper, so orphans are reparented to it and reaped
 *          here, and RUSAGE_CHILDREN then covers all of them
 * maxrss   the largest single process's peak RSS (the kernel's own high
 *          water mark; what /usr/bin/time reports)
 * tree_rss the largest sum of the RSS of all processes of the tree at one
 *          moment, sampled from /proc every 20 ms (-s MS sets another
 *          interval); never below maxrss
 * status   the command's exit code, 128 + N if a signal N ended it, 124 if
 *          -T SECONDS ran out (the tree then gets SIGTERM, then SIGKILL)
 *
 * runstat exits with the same status.  The command runs in its own process
 * group, which is what the /proc sampling looks for.  Linux only.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { SAMPLE_MS = 20, GRACE_MS = 2000 };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The resident set, in KiB, of every process whose process group is pgid:
 * one read of /proc/PID/stat per process (fields 5 and 24, after the
 * parenthesised command name, which may itself hold spaces or parentheses).
 */
static long group_rss_kb(pid_t pgid, long page_kb)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	long total = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[64], line[1024], *p;
		long pgrp = 0, rss = 0;
		FILE *f;
		size_t n;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		n = fread(line, 1, sizeof(line) - 1, f);
		fclose(f);
		line[n] = '\0';
		p = strrchr(line, ')');
		/* after ")": field 3 (state) on; pgrp is 5, rss 24 */
		if (!p || sscanf(p + 1,
				 "%*s %*s %ld %*s %*s %*s %*s %*s %*s %*s %*s"
				 " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %ld",
				 &pgrp, &rss) != 2)
			continue;
		if (pgrp == pgid)
			total += rss * page_kb;
	}
	closedir(d);
	return total;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: runstat [-T SECONDS] [-s MS] [-o FILE] -- COMMAND "
		"[ARG...]\n");
	return 64;
}

/* Reaps what has ended; returns 1 once no process of the tree is left. */
static int reap(pid_t child, int *code)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p != child)
			continue;
		if (WIFEXITED(st))
			*code = WEXITSTATUS(st);
		else if (WIFSIGNALED(st))
			*code = 128 + WTERMSIG(st);
	}
	return p < 0 && errno == ECHILD;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	double limit = 0, t0, wall;
	long page_kb = sysconf(_SC_PAGESIZE) / 1024, peak = 0;
	int opt, code = -1, timed_out = 0;
	long sample_ms = SAMPLE_MS;
	pid_t child;
	sigset_t chld, old;
	struct rusage ru;
	FILE *f = stderr;

	while ((opt = getopt(argc, argv, "+T:s:o:")) != -1) {
		switch (opt) {
		case 'T':
			limit = atof(optarg);
			break;
		case 's':
			sample_ms = atol(optarg);
			if (sample_ms < 1)
				return usage();
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) != 0) {
		perror("runstat: PR_SET_CHILD_SUBREAPER");
		return 71;
	}
	/* SIGCHLD stays pending so that sigtimedwait wakes the moment a
	 * process of the tree ends: the wall time is not rounded up to a
	 * sampling period */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	t0 = now();
	child = fork();
	if (child < 0) {
		perror("runstat: fork");
		return 71;
	}
	if (child == 0) {
		setpgid(0, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "runstat: %s: %s\n", argv[optind],
			strerror(errno));
		_exit(127);
	}
	setpgid(child, child); /* either side may win; both set the same */

	while (!reap(child, &code)) {
		struct timespec tick = {sample_ms / 1000,
					(sample_ms % 1000) * 1000000L};
		long rss = group_rss_kb(child, page_kb);

		if (rss > peak)
			peak = rss;
		if (limit > 0 && now() - t0 > limit) {
			kill(-child, timed_out ? SIGKILL : SIGTERM);
			limit = timed_out ? 0 : now() - t0 + GRACE_MS / 1000.0;
			timed_out = 1;
		}
		sigtimedwait(&chld, NULL, &tick);
	}
	wall = now() - t0;
	getrusage(RUSAGE_CHILDREN, &ru);
	if (ru.ru_maxrss > peak)
		peak = ru.ru_maxrss;
	if (timed_out)
		code = 124;
	if (out && !(f = fopen(out, "w"))) {
		perror(out);
		return 73;
	}
	fprintf(f,
		"wall=%.6f user=%.6f sys=%.6f maxrss_kb=%ld tree_rss_kb=%ld "
		"status=%d\n",
		wall,
		(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
		ru.ru_maxrss, peak, code);
	if (f != stderr)
		fclose(f);
	return code;
}

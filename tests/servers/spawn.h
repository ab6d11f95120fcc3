/*
 * spawn.h — start and stop the test servers from a cmocka test.
 *
 * The servers in tests/servers/ (smtp_server.py, http_server.py) listen on
 * 127.0.0.1 port 0, so the kernel picks a free port, and write that port
 * and a newline to the file named by --port-file (written under a
 * temporary name and renamed, so it is never seen half-written).  A test:
 *
 *     char *argv[] = {"/usr/bin/python3", path, "--port-file", pf, ..., NULL};
 *     struct spawn_server s;
 *     if (spawn_server_start(&s, argv, pf, 10000) != 0) fail();
 *     ... talk to 127.0.0.1:s.port ...
 *     assert_int_equal(spawn_server_stop(&s), 0);  // exited cleanly
 *
 * Also: the source folder, scratch folders, reading a whole file, running a
 * command to completion.
 *
 * Header-only: every function is static, include it from one test program.
 * Not thread-safe: call from the test's main thread.  Nothing here touches
 * signals of the test process; a child that outlives a crashed test is
 * killed by the kernel only if the test dies by signal (prctl
 * PR_SET_PDEATHSIG is Linux-only, and used when available).
 */
#ifndef HD_TEST_SPAWN_H
#define HD_TEST_SPAWN_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* Not every test uses every helper. */
#define SPAWN_API __attribute__((unused)) static

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

struct spawn_server {
	pid_t pid; /* 0 when not running */
	int port;  /* what the server wrote to its port file */
};

SPAWN_API void spawn_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

SPAWN_API long spawn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The project root: $HERALD_SRC, else derived from this file's path. */
SPAWN_API const char *spawn_src_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("HERALD_SRC");
	const char *self = __FILE__;
	const char *tail = "/tests/servers/spawn.h";
	size_t n = strlen(self), t = strlen(tail);

	if (env && env[0])
		return env;
	if (n > t && n - t < sizeof(dir) && strcmp(self + n - t, tail) == 0) {
		memcpy(dir, self, n - t);
		dir[n - t] = '\0';
		return dir;
	}
	return ".";
}

/* Child side of a fork: stdin from /dev/null, stdout to stderr (a test's
 * stdout belongs to cmocka), then exec.  Never returns. */
SPAWN_API void spawn_exec_child(char *const argv[], int quiet)
{
	int fd = open("/dev/null", O_RDWR);

#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (fd >= 0) {
		dup2(fd, 0);
		if (quiet) {
			dup2(fd, 1);
			dup2(fd, 2);
		} else {
			dup2(2, 1);
		}
		if (fd > 2)
			close(fd);
	}
	execv(argv[0], argv);
	_exit(127);
}

/* Runs argv (argv[0] a full path) to completion.  Returns its exit status,
 * or -1 when it could not run or died by a signal.  quiet: discard its
 * output. */
SPAWN_API int spawn_run(char *const argv[], int quiet)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0)
		spawn_exec_child(argv, quiet);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Starts argv and waits (at most timeout_ms) until it has written its
 * port to port_file.  0 on success; -1 when it exited or timed out (it is
 * killed then). */
SPAWN_API int spawn_server_start(struct spawn_server *s, char *const argv[],
				 const char *port_file, long timeout_ms)
{
	long deadline = spawn_now_ms() + timeout_ms;
	char buf[32];
	int status;

	s->pid = 0;
	s->port = 0;
	unlink(port_file);
	s->pid = fork();
	if (s->pid < 0) {
		s->pid = 0;
		return -1;
	}
	if (s->pid == 0)
		spawn_exec_child(argv, 0);
	while (spawn_now_ms() < deadline) {
		FILE *f = fopen(port_file, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			char *end;
			long port;

			fclose(f);
			buf[n] = '\0';
			port = strtol(buf, &end, 10);
			if (n && *end == '\n' && port > 0 && port < 65536) {
				s->port = (int)port;
				return 0;
			}
		}
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		spawn_sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
	return -1;
}

/* SIGTERM, then SIGKILL after 5 s.  Returns the exit status (0: it shut
 * down cleanly), -1 when it had to be killed or was not running. */
SPAWN_API int spawn_server_stop(struct spawn_server *s)
{
	long deadline;
	int status;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	deadline = spawn_now_ms() + 5000;
	while (spawn_now_ms() < deadline) {
		pid_t r = waitpid(s->pid, &status, WNOHANG);
		if (r == s->pid) {
			s->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		if (r < 0 && errno != EINTR)
			break;
		spawn_sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
	return -1;
}

/* Makes a fresh folder /tmp/herald-TAG-XXXXXX into out.  0 on success. */
SPAWN_API int spawn_mkdtemp(char *out, size_t size, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(out, size, "%s/herald-%s-XXXXXX",
			 tmp && tmp[0] ? tmp : "/tmp", tag);

	if (n < 0 || (size_t)n >= size)
		return -1;
	return mkdtemp(out) ? 0 : -1;
}

/* rm -rf path (does not follow symbolic links). */
SPAWN_API void spawn_rmtree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char sub[PATH_MAX];

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((e = readdir(d)) != NULL) {
			int n;
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			n = snprintf(sub, sizeof(sub), "%s/%s", path,
				     e->d_name);
			if (n > 0 && (size_t)n < sizeof(sub))
				spawn_rmtree(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

/* The whole file, NUL-terminated (free() it); *len without the NUL.
 * NULL when it cannot be read. */
SPAWN_API char *spawn_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL, *q;
	size_t n = 0, cap = 0, r;

	if (!f)
		return NULL;
	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			q = realloc(p, cap + 1);
			if (!q) {
				free(p);
				fclose(f);
				return NULL;
			}
			p = q;
		}
		r = fread(p + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	p[n] = '\0';
	if (len)
		*len = n;
	return p;
}

#endif

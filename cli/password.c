/* password.c — the SMTP password from a private file or a command. */
#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_PASSWORD 1024      /* bytes in the first line */
#define MAX_OUTPUT (64 * 1024) /* read from a command before we stop */

void password_wipe(char *s)
{
	if (!s)
		return;
	/* volatile: the compiler may not drop a wipe before free */
	for (volatile char *p = s; *p; p++)
		*p = '\0';
	free(s);
}

/* The first line of buf[0..n), as a new string; NULL when out of memory. */
static char *first_line(char *buf, size_t n)
{
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return strdup(buf);
}

int password_from_file(const char *path, char **out)
{
	struct stat st;
	FILE *fp = fopen(path, "r");
	char buf[MAX_PASSWORD + 1];
	size_t n;

	*out = NULL;
	if (!fp) {
		fprintf(stderr, "herald: %s: cannot open password file: %s\n",
			path, strerror(errno));
		return 66;
	}
	if (fstat(fileno(fp), &st) != 0 || (st.st_mode & (S_IROTH | S_IWOTH))) {
		fclose(fp);
		fprintf(stderr,
			"herald: %s: password file is readable by others; "
			"chmod o-rw it first\n",
			path);
		return 78;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	*out = first_line(buf, n);
	memset(buf, 0, sizeof(buf));
	return *out ? 0 : 70;
}

/* environ without HERALD_SMTP_PASSWORD (the array only; the strings are
 * environ's own).  NULL when out of memory. */
static char **child_environment(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "HERALD_SMTP_PASSWORD=", 21) != 0)
			env[k++] = environ[i];
	return env;
}

/* Starts sh -c cmd with stdout into fds[1]; fills *pid.  0 or errno. */
static int spawn(const char *cmd, int fds[2], pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	char **env = child_environment();
	int rc;

	if (!env)
		return ENOMEM;
	rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0) {
		rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
						      O_RDONLY, 0);
		if (rc == 0)
			rc = posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
		if (rc == 0)
			rc = posix_spawn(pid, "/bin/sh", &fa, NULL, argv, env);
		posix_spawn_file_actions_destroy(&fa);
	}
	free(env);
	return rc;
}

/* Reads the command's output: the first line into line (cut at
 * MAX_PASSWORD), the rest read and dropped up to MAX_OUTPUT. */
static size_t read_output(int fd, char *line, int *too_long)
{
	char chunk[4096];
	size_t have = 0, total = 0;
	int in_first = 1;
	ssize_t got;

	*too_long = 0;
	while (total < MAX_OUTPUT &&
	       ((got = read(fd, chunk, sizeof(chunk))) > 0 ||
		(got < 0 && errno == EINTR))) {
		if (got < 0)
			continue;
		total += (size_t)got;
		for (ssize_t i = 0; in_first && i < got; i++) {
			if (chunk[i] == '\n') {
				in_first = 0;
			} else if (have < MAX_PASSWORD) {
				line[have++] = chunk[i];
			} else {
				*too_long = 1;
				in_first = 0;
			}
		}
	}
	memset(chunk, 0, sizeof(chunk));
	return have;
}

int password_from_command(const char *cmd, char **out)
{
	char line[MAX_PASSWORD + 1];
	int fds[2], status = 0, too_long, rc;
	size_t n;
	pid_t pid;

	*out = NULL;
	if (pipe(fds) != 0) {
		fprintf(stderr, "herald: --smtp-password-command: %s\n",
			strerror(errno));
		return 78;
	}
	/* only the child's stdout may hold the write end */
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	rc = spawn(cmd, fds, &pid);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		fprintf(stderr,
			"herald: --smtp-password-command: cannot run "
			"/bin/sh: %s\n",
			strerror(rc));
		return 78;
	}
	n = read_output(fds[0], line, &too_long);
	close(fds[0]); /* a command still writing gets SIGPIPE */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	if (WIFSIGNALED(status) && !(WTERMSIG(status) == SIGPIPE && n)) {
		fprintf(stderr,
			"herald: --smtp-password-command was killed by "
			"signal %d\n",
			WTERMSIG(status));
		rc = 78;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		fprintf(stderr,
			"herald: --smtp-password-command failed (exit status "
			"%d)\n",
			WEXITSTATUS(status));
		rc = 78;
	} else if (too_long) {
		fprintf(stderr,
			"herald: --smtp-password-command: the first line is "
			"longer than %d bytes\n",
			MAX_PASSWORD);
		rc = 78;
	} else if (n == 0) {
		fprintf(stderr, "herald: --smtp-password-command printed no "
				"password (its first line is empty)\n");
		rc = 78;
	} else {
		*out = strdup(line);
		rc = *out ? 0 : 70;
	}
	memset(line, 0, sizeof(line));
	return rc;
}

/* stall_open.c — a fault injector for the integration tests, loaded into
 * herald with LD_PRELOAD: open() of a file whose last path component is
 * $HERALD_STALL_OPEN does not return until the file named by
 * $HERALD_STALL_RELEASE exists (checked every 20 ms), as if the disk or a
 * network file system had stopped answering. Every other open() is
 * passed on unchanged. Built without sanitizers: it is loaded into a
 * sanitized herald, whose runtime does the checking. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef int (*open_fn)(const char *, int, ...);

static void stall_if_named(const char *path)
{
	const char *name = getenv("HERALD_STALL_OPEN");
	const char *release = getenv("HERALD_STALL_RELEASE");
	const char *base = strrchr(path, '/');
	struct timespec tick = {0, 20 * 1000 * 1000};

	base = base ? base + 1 : path;
	if (!name || !name[0] || strcmp(base, name) != 0)
		return;
	while (!release || access(release, F_OK) != 0)
		nanosleep(&tick, NULL);
}

/* Stalls if path is the one named, then opens it with libc's own symbol;
 * ap holds the mode when flags create a file. */
static int pass_on(const char *symbol, const char *path, int flags, va_list ap)
{
	open_fn next = (open_fn)(uintptr_t)dlsym(RTLD_NEXT, symbol);
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE))
		mode = (mode_t)va_arg(ap, unsigned int);
	stall_if_named(path);
	return next(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	int fd;

	va_start(ap, flags);
	fd = pass_on("open", path, flags, ap);
	va_end(ap);
	return fd;
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	int fd;

	va_start(ap, flags);
	fd = pass_on("open64", path, flags, ap);
	va_end(ap);
	return fd;
}

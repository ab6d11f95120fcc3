/* fdio.c — EINTR-safe reads and writes; see fdio.h. */
#include "fdio.h"

#include <errno.h>
#include <unistd.h>

int hd__write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t hd__read_some(int fd, void *p, size_t n)
{
	ssize_t r;

	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

ssize_t hd__pread_some(int fd, void *p, size_t n, off_t off)
{
	ssize_t r;

	do
		r = pread(fd, p, n, off);
	while (r < 0 && errno == EINTR);
	return r;
}

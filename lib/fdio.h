/*
 * fdio.h — reads and writes on file descriptors that retry what a signal
 * interrupted (internal).
 *
 *	hd__write_all   writes all n bytes, or returns -1 (errno set)
 *	hd__read_some   read(2), retried on EINTR
 *	hd__pread_some  pread(2), retried on EINTR
 *
 * A run installs SIGINT/SIGTERM handlers without SA_RESTART, so any
 * blocking call may return EINTR; these are the one place that says what
 * to do then.  No state: safe from any thread.
 */
#ifndef HD_FDIO_H
#define HD_FDIO_H

#include <stddef.h>
#include <sys/types.h>

int hd__write_all(int fd, const void *p, size_t n);
ssize_t hd__read_some(int fd, void *p, size_t n);
ssize_t hd__pread_some(int fd, void *p, size_t n, off_t off);

#endif

/* secret.c — reading a secret from a private file; see secret.h. */
#include "secret.h"

#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

hd_status hd__secret_read(const char *path, const char *what, size_t max,
			  char **out, size_t *len, hd_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	hd_status rc = HD_OK;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return hd_error_set(err, HD_ENOENT, path, 0, 0,
				    "cannot open %s: %s", what,
				    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = hd_error_set(err, HD_ENOENT, path, 0, 0,
				  "%s is not a regular file", what);
		goto out;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		rc = hd_error_set(err, HD_ECONFIG, path, 0, 0,
				  "%s is readable or writable by others; "
				  "chmod o-rw it first",
				  what);
		goto out;
	}
	if ((unsigned long long)st.st_size > max) {
		rc = hd_error_set(err, HD_ECONFIG, path, 0, 0,
				  "%s is larger than %zu bytes", what, max);
		goto out;
	}
	buf = malloc(max + 1);
	if (!buf) {
		rc = hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
		goto out;
	}
	for (;;) {
		ssize_t n = hd__read_some(fd, buf + got, max + 1 - got);
		if (n < 0) {
			rc = hd_error_set(err, HD_ENOENT, path, 0, 0,
					  "cannot read %s: %s", what,
					  strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) { /* grew since fstat */
			rc = hd_error_set(err, HD_ECONFIG, path, 0, 0,
					  "%s is larger than %zu bytes", what,
					  max);
			goto out;
		}
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	if (buf)
		hd__secret_free(buf, max + 1);
	close(fd);
	return rc;
}

void hd__secret_free(char *p, size_t len)
{
	if (!p)
		return;
	explicit_bzero(p, len);
	free(p);
}

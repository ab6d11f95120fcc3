/* outputs.c — checking inputs against the files a run writes. */
#include "outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The path with its folder resolved (the file itself may not exist). */
static void resolve(const char *path, char out[PATH_MAX])
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (realpath(path, out))
		return;
	if (slash) {
		size_t n = (size_t)(slash - path);
		snprintf(dir, sizeof(dir), "%.*s", (int)n, n ? path : "/");
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	if (!realpath(dir, real))
		snprintf(real, sizeof(real), "%s", dir);
	snprintf(out, PATH_MAX, "%.2000s/%.2000s", real, base);
}

hd_status hd__outputs_add(hd__outputs *o, const char *path, const char *what,
			  int dir, hd_error *err)
{
	struct hd__output *f;
	struct stat st;

	if (!path || !strcmp(path, "-") || o->n >= HD__OUTPUTS_MAX)
		return HD_OK;
	f = &o->f[o->n];
	memset(f, 0, sizeof(*f));
	f->what = what;
	f->path = path;
	f->dir = dir;
	resolve(path, f->real);
	if (stat(path, &st) == 0) {
		f->exists = 1;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
	}
	for (size_t i = 0; i < o->n; i++) {
		const struct hd__output *g = &o->f[i];
		int same = f->exists && g->exists
			       ? f->dev == g->dev && f->ino == g->ino
			       : strcmp(f->real, g->real) == 0;
		if (same && !(f->exists && S_ISCHR(st.st_mode)))
			return hd_error_set(err, HD_EUSAGE, path, 0, 0,
					    "%s and %s are the same file", what,
					    g->what);
	}
	o->n++;
	return HD_OK;
}

hd_status hd__outputs_check(const hd__outputs *o, const char *path,
			    const char *what, hd_error *err)
{
	struct stat st;
	char real[PATH_MAX];

	if (!o || !path || !strcmp(path, "-") || stat(path, &st) != 0)
		return HD_OK;
	if (!realpath(path, real))
		real[0] = '\0';
	for (size_t i = 0; i < o->n; i++) {
		const struct hd__output *f = &o->f[i];
		size_t n = strlen(f->real);
		if (f->exists && f->dev == st.st_dev && f->ino == st.st_ino &&
		    !S_ISCHR(st.st_mode))
			return hd_error_set(err, HD_EUSAGE, path, 0, 0,
					    "%s is %s: herald never writes "
					    "over its input",
					    f->what, what);
		if (f->dir && real[0] && !strncmp(real, f->real, n) &&
		    real[n] == '/')
			return hd_error_set(
			    err, HD_EUSAGE, path, 0, 0,
			    "%s is inside %s (%s), which herald "
			    "writes into",
			    what, f->what, f->path);
	}
	return HD_OK;
}

/* outbox_prep.c — refusing or clearing an earlier run's outbox files. */
#include "outbox_prep.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* NNNNNN.eml or NNNNNN.http (six digits or more): what the outbox
 * transport writes. */
static int is_message_file(const char *name)
{
	size_t d = strspn(name, "0123456789");

	return d >= 6 &&
	       (!strcmp(name + d, ".eml") || !strcmp(name + d, ".http"));
}

hd_status hd__outbox_prepare(const char *dir, int clean, int continues,
			     long *removed, hd_error *err)
{
	DIR *d;
	struct dirent *de;
	char first[256] = "", path[4096];
	long found = 0, gone = 0;
	hd_status st = HD_OK;

	*removed = 0;
	if (!dir || continues)
		return HD_OK;
	d = opendir(dir);
	if (!d)
		return HD_OK; /* not there yet: the transport makes it */
	while ((de = readdir(d)) != NULL) {
		if (!is_message_file(de->d_name))
			continue;
		if (!found++)
			snprintf(first, sizeof(first), "%s", de->d_name);
		if (!clean)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
			(int)sizeof(path) ||
		    (unlink(path) != 0 && errno != ENOENT)) {
			st = hd_error_set(err, HD_ECREATE, dir, 0, 0,
					  "--outbox-clean cannot remove %s: %s",
					  de->d_name, strerror(errno));
			break;
		}
		gone++;
	}
	closedir(d);
	*removed = gone;
	if (st == HD_OK && found && !clean)
		st =
		    hd_error_set(err, HD_EUSAGE, dir, 0, 0,
				 "the outbox holds %ld message%s of an earlier "
				 "run (%s%s): empty it, give another --outbox, "
				 "or --outbox-clean to remove them first",
				 found, found == 1 ? "" : "s", first,
				 found > 1 ? ", ..." : "");
	return st;
}

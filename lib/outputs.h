/*
 * outputs.h — herald never writes over its input (internal).
 *
 * A run collects the files it will write (the report, the journal, the
 * outbox folder) before it opens any of them, and every input it reads
 * (the template, its partials and attachments, the recipients file, an
 * earlier report) is checked against them: the same file (device and
 * inode, symlinks followed), or for the outbox a file inside it, is a
 * usage error, so nothing is opened for writing.  Outputs that do not
 * exist yet are compared by their resolved path, so `-o x --journal x`
 * is refused too.
 */
#ifndef HD_OUTPUTS_H
#define HD_OUTPUTS_H

#include "herald.h"

#include <limits.h>
#include <sys/types.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define HD__OUTPUTS_MAX 4

typedef struct hd__outputs {
	size_t n;
	struct hd__output {
		const char *what; /* "the report (-o)" */
		const char *path; /* as given */
		char real[PATH_MAX];
		int exists;
		int dir; /* the outbox: inputs may not be inside it */
		dev_t dev;
		ino_t ino;
	} f[HD__OUTPUTS_MAX];
} hd__outputs;

/* Adds an output (path NULL or "-" is ignored).  HD_EUSAGE when it is the
 * same file as an output added before. */
hd_status hd__outputs_add(hd__outputs *o, const char *path, const char *what,
			  int dir, hd_error *err);

/* HD_EUSAGE when the input path (what: "the template") is one of the
 * outputs, or lies in the outbox folder.  A path that cannot be looked at
 * passes: reading it will fail on its own. */
hd_status hd__outputs_check(const hd__outputs *o, const char *path,
			    const char *what, hd_error *err);

#endif

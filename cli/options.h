/*
 * options.h — the command line: one table of options, from which parsing
 * and --help are both made, so they cannot drift apart.
 */
#ifndef HERALD_CLI_OPTIONS_H
#define HERALD_CLI_OPTIONS_H

#include "herald.h"

enum command {
	CMD_NONE = 0,
	CMD_SEND = 1,
	CMD_CHECK = 2,
	CMD_RENDER = 4,
	CMD_UNSUBSCRIBE = 8, /* herald unsubscribe-server */
};

enum progress_mode { PROGRESS_AUTO, PROGRESS_ALWAYS, PROGRESS_NEVER };

#define MAX_ENV_NAMES 64
#define MAX_DKIM 8	 /* --dkim */
#define MAX_DKIM_OMIT 16 /* --dkim-omit */

struct options {
	enum command cmd;
	hd_run_config run;
	const char *env_names[MAX_ENV_NAMES];
	const char *dkim[MAX_DKIM];
	const char *dkim_omit[MAX_DKIM_OMIT];
	hd_unsubscribe_config unsub; /* herald unsubscribe-server */
	char *password; /* read from the file or the environment; freed */
	const char *password_file;
	long render_row;
	const char *render_key;
	int quiet;
	int verbose;
	enum progress_mode progress;
	int help;
	int version;
};

/* Parses argv into o.  Returns 0, or the exit code to leave with (64 for
 * usage errors, 66 for an unreadable password file, 78 for a password
 * file readable by others) after printing one line to stderr. */
int options_parse(int argc, char **argv, struct options *o);

/* Prints help for cmd (CMD_NONE: the overview) to stdout. */
void options_help(enum command cmd);

void options_free(struct options *o);

#endif

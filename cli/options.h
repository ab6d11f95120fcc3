/*
 * options.h — the command line: one table of options, from which parsing,
 * the config file, --help, the bash completion and the man page check are
 * all made, so they cannot drift apart.
 *
 * Where a setting comes from, first found wins:
 *	1. the command line;
 *	2. the config file (--config FILE, else env HERALD_CONFIG): lines of
 *	   "option = value", "option value" or a lone flag, # comments,
 *	   "double quotes" for values with spaces; options that do not apply
 *	   to the command at hand are passed over, so one file serves send,
 *	   check and render;
 *	3. the environment (HERALD_SMTP_URL, HERALD_SMTP_USER,
 *	   HERALD_SMTP_PASSWORD).
 * Alternatives are one setting: --smtp and --outbox (where messages go),
 * and the password sources (smtp-password, --smtp-password-file,
 * --smtp-password-command): the command line choosing one hides the
 * file's choice of another.
 */
#ifndef HERALD_CLI_OPTIONS_H
#define HERALD_CLI_OPTIONS_H

#include "herald.h"

enum command {
	CMD_NONE = 0,
	CMD_SEND = 1,
	CMD_CHECK = 2,
	CMD_RENDER = 4,
	CMD_REPORT = 8,
	CMD_HELP = 16,
	CMD_VERSION = 32,
	CMD_COMPLETION = 64,
	CMD_UNSUBSCRIBE = 128, /* herald unsubscribe-server */
	CMD_CONSUME = 256,     /* herald consume */
	CMD_ENQUEUE = 512,     /* herald enqueue */
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
	hd_consume_config consume;   /* herald consume (its run: o->run) */
	hd_enqueue_config enqueue;   /* herald enqueue (its run: o->run) */
	const char *redis_password_file;
	char *redis_password; /* wiped and freed */
	char *password;	      /* read from a file, a command, the config or the
				 environment; wiped and freed */
	const char *password_file;
	const char *password_command;
	const char *config_password; /* smtp-password in the config file */
	const char *config_path;
	char *config_text;	/* the config file; values point into it */
	const char *shard_spec; /* --shard K/N */
	long shard_count;	/* --shard-count N; 0: not given */
	long render_row;
	const char *render_key;
	const char *html_path; /* report --html */
	long slowest;	       /* report --slowest; 0: default */
	int quiet;
	int verbose;
	int connect; /* check --connect */
	enum progress_mode progress;
	int help;		  /* COMMAND --help */
	int version;		  /* COMMAND --version */
	enum command help_topic;  /* herald help COMMAND */
	const char *completion;	  /* herald completion SHELL */
	const char *report_input; /* herald report FILE */
};

/* Parses argv (and the config file) into o.  Returns 0, or the exit code
 * to leave with after printing one line to stderr: 64 usage, 66 an
 * unreadable password or config file, 78 a config file that is broken or
 * not private enough for its secrets, a password file readable by
 * others, a failing --smtp-password-command. */
int options_parse(int argc, char **argv, struct options *o);

/* Prints help for cmd (CMD_NONE: the overview) to stdout, wrapped to 80
 * columns. */
void options_help(enum command cmd);

/* Prints the completion script for shell ("bash"), generated from the
 * option table, or every long option one a line for "options".  Returns
 * 0, or 64 for a shell it cannot serve. */
int options_completion(const char *shell);

void options_free(struct options *o);

#endif

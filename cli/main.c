/*
 * main.c — the herald program: a thin client of libherald.  It parses the
 * command line, installs the signal handlers, runs, and turns the outcome
 * into one of the documented exit codes (sysexits, see herald(1)).
 */
#include "herald.h"
#include "options.h"
#include "progress.h"
#include "report_cmd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* sysexits(3) */
enum {
	EXIT_SOME_FAILED = 1,
	EXIT_USAGE = 64,
	EXIT_DATAERR = 65,
	EXIT_NOINPUT = 66,
	EXIT_SOFTWARE = 70,
	EXIT_CANTCREAT = 73,
	EXIT_TEMPFAIL = 75,
	EXIT_CONFIG = 78,
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	if (interrupted < 2)
		interrupted++;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Decisions live in tables: which library status leaves with which code. */
static const struct {
	hd_status status;
	int code;
} exit_codes[] = {
    {HD_EUSAGE, EXIT_USAGE},	 {HD_EINVALIDROWS, EXIT_DATAERR},
    {HD_EPARSE, EXIT_DATAERR},	 {HD_EUTF8, EXIT_DATAERR},
    {HD_ELIMIT, EXIT_DATAERR},	 {HD_ETEMPLATE, EXIT_DATAERR},
    {HD_EMISSING, EXIT_DATAERR}, {HD_EADDRESS, EXIT_DATAERR},
    {HD_EHEADER, EXIT_DATAERR},	 {HD_EINVAL, EXIT_DATAERR},
    {HD_ENOENT, EXIT_NOINPUT},	 {HD_ECREATE, EXIT_CANTCREAT},
    {HD_EIO, EXIT_CANTCREAT},	 {HD_EINTERRUPTED, EXIT_TEMPFAIL},
    {HD_ELOCKED, EXIT_TEMPFAIL}, {HD_ECONFIG, EXIT_CONFIG},
};

static int exit_code_of(hd_status st)
{
	for (size_t i = 0; i < sizeof(exit_codes) / sizeof(exit_codes[0]); i++)
		if (exit_codes[i].status == st)
			return exit_codes[i].code;
	return EXIT_SOFTWARE;
}

static void print_error(const hd_error *err)
{
	char line[1200];

	hd_error_format(err, line, sizeof(line));
	fprintf(stderr, "herald: %s\n", line);
}

static int do_render(struct options *o)
{
	char *data = NULL, *envelope = NULL;
	size_t len = 0;
	hd_error err;
	hd_status st;

	st = hd_render(&o->run, o->render_row, o->render_key, &data, &len,
		       &envelope, &err);
	if (st != HD_OK) {
		print_error(&err);
		return exit_code_of(st);
	}
	fputs(envelope, stderr);
	fwrite(data, 1, len, stdout);
	/* a request whose body does not end in a line break gets one more
	 * on a terminal, so the prompt does not stick to the body; into a
	 * file or a pipe go the exact bytes, as sent */
	if (!*envelope && (len == 0 || data[len - 1] != '\n') &&
	    isatty(STDOUT_FILENO))
		putchar('\n');
	free(data);
	free(envelope);
	return fflush(stdout) == 0 ? 0 : EXIT_CANTCREAT;
}

/* check --connect, once every row is valid: one line a step (printed
 * by progress_event), the failing step's verdict as the exit code. */
static int do_connect(struct options *o)
{
	struct progress p;
	hd_error err;
	hd_status st;

	progress_init(&p, 0, 1, o->quiet, o->verbose, 0);
	o->run.event_ctx = &p;
	st = hd_connect_check(&o->run, &err);
	progress_free(&p);
	if (st == HD_OK)
		return 0;
	/* a step's failure is already on its line */
	if (!(st == HD_ECONFIG || st == HD_EINTERRUPTED ||
	      st == HD_EPERMANENT || st == HD_ETRANSIENT))
		print_error(&err);
	/* a refused sender or recipient: those rows would fail */
	if (st == HD_EPERMANENT || st == HD_ETRANSIENT) {
		print_error(&err);
		return EXIT_SOME_FAILED;
	}
	return exit_code_of(st);
}

/* herald send and check */
static hd_status go_send(struct options *o, hd_run_stats *stats, hd_error *err)
{
	return hd_run(&o->run, stats, err);
}

/* herald consume: its run settings are o->run's, with the progress set */
static hd_status go_consume(struct options *o, hd_run_stats *stats,
			    hd_error *err)
{
	o->consume.run = o->run;
	return hd_consume(&o->consume, stats, err);
}

static int do_run(struct options *o,
		  hd_status (*go)(struct options *, hd_run_stats *, hd_error *))
{
	struct progress p;
	hd_run_stats stats;
	hd_error err;
	hd_status st;
	int dry = o->run.dry_run || o->run.check_only;

	progress_init(&p, o->progress == PROGRESS_ALWAYS,
		      o->progress == PROGRESS_NEVER, o->quiet, o->verbose,
		      o->run.skip);
	p.skip_invalid = o->run.skip_invalid;
	o->run.interrupt = &interrupted;
	o->run.on_event = progress_event;
	p.report = o->run.report_path;
	o->run.event_ctx = &p;
	install_signals();
	memset(&stats, 0, sizeof(stats));
	st = go(o, &stats, &err);
	progress_end(&p);
	if (st == HD_EINVALIDROWS) {
		/* a refused run: the problems, then the verdict; one line
		 * when there is one problem; no summary, nothing happened */
		if (!progress_flush_invalid(&p, 1, &stats))
			print_error(&err);
		progress_free(&p);
		return exit_code_of(st);
	}
	progress_flush_invalid(&p, 0, &stats);
	/* an interrupt was answered when it came: not again at the end */
	if (st != HD_OK && !(st == HD_EINTERRUPTED && !err.file[0] &&
			     progress_said(&p, err.msg)))
		print_error(&err);
	if (st == HD_OK || st == HD_EINTERRUPTED ||
	    (st == HD_ECONFIG && stats.done > 0))
		progress_summary(&p, &stats, dry, o->run.check_only,
				 st == HD_OK);
	progress_free(&p);
	if (st != HD_OK)
		return exit_code_of(st);
	if (o->connect)
		return do_connect(o);
	return stats.failed || stats.invalid || stats.uncertain
		   ? EXIT_SOME_FAILED
		   : 0;
}

/* The problems a refused enqueue found, one line each. */
static void enqueue_event(void *ctx, const hd_event *ev)
{
	const struct options *o = ctx;
	char line[1200];

	if (ev->kind != HD_EVENT_INVALID_ROW || !ev->error)
		return;
	(void)o;
	hd_error_format(ev->error, line, sizeof(line));
	fprintf(stderr, "herald: invalid: %s\n", line);
}

static int do_enqueue(struct options *o)
{
	hd_error err;
	hd_status st;
	long added = 0;

	o->enqueue.run.on_event = enqueue_event;
	o->enqueue.run.event_ctx = o;
	st = hd_enqueue(&o->enqueue, &added, &err);
	if (st != HD_OK) {
		print_error(&err);
		if (added > 0)
			fprintf(stderr,
				"herald: %ld entr%s added before that\n", added,
				added == 1 ? "y was" : "ies were");
		return exit_code_of(st);
	}
	if (!o->quiet)
		fprintf(stderr, "herald: %ld entr%s added to %s\n", added,
			added == 1 ? "y" : "ies", o->enqueue.url);
	return 0;
}

static void unsubscribe_log(void *ctx, int is_error, const char *line)
{
	const struct options *o = ctx;

	if (is_error || !o->quiet)
		fprintf(stderr, "herald: %s\n", line);
}

static int do_unsubscribe_server(struct options *o)
{
	hd_error err;
	hd_status st;

	o->unsub.interrupt = &interrupted;
	o->unsub.on_log = unsubscribe_log;
	o->unsub.log_ctx = o;
	install_signals();
	st = hd_unsubscribe_serve(&o->unsub, &err);
	if (st != HD_OK) {
		print_error(&err);
		return exit_code_of(st);
	}
	return 0;
}

/* A run holds about three descriptors per connection with -c in the
 * hundreds, and the usual soft limit of 1024 is a default, not a policy:
 * take what the hard limit allows, as the administrator set it. */
static void raise_open_files(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	int rc;

	/* Everything herald writes (report, outbox, temporary files) holds
	 * recipients' data or replies: private to the user whatever the
	 * umask it was started with (files 0600, folders 0700). */
	umask(077);
	raise_open_files();
	rc = options_parse(argc, argv, &o);

	if (rc) {
		options_free(&o);
		return rc;
	}
	if (o.cmd == CMD_VERSION || o.version) {
		printf("herald %s\n", HD_VERSION);
	} else if (o.cmd == CMD_HELP) {
		options_help(o.help_topic);
	} else if (o.help) {
		options_help(o.cmd);
	} else if (o.cmd == CMD_COMPLETION) {
		rc = options_completion(o.completion);
	} else if (o.cmd == CMD_REPORT) {
		rc = report_command(&o);
	} else if (o.cmd == CMD_UNSUBSCRIBE) {
		rc = do_unsubscribe_server(&o);
	} else if (o.cmd == CMD_CONSUME) {
		rc = do_run(&o, go_consume);
	} else if (o.cmd == CMD_ENQUEUE) {
		rc = do_enqueue(&o);
	} else {
		rc = o.cmd == CMD_RENDER ? do_render(&o) : do_run(&o, go_send);
	}
	options_free(&o);
	if (rc == 0 && fflush(stdout) != 0)
		rc = EXIT_CANTCREAT;
	return rc;
}

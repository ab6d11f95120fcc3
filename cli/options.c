/* options.c — the option table, parsing and generated help. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum opt_id {
	O_TEMPLATE = 1,
	O_FORMAT,
	O_DELIMITER,
	O_SMTP,
	O_SMTP_USER,
	O_PASSWORD_FILE,
	O_ALLOW_PLAIN,
	O_OUTBOX,
	O_DRY_RUN,
	O_CONCURRENCY,
	O_RATE,
	O_RETRIES,
	O_TIMEOUT,
	O_BACKOFF,
	O_REPORT,
	O_KEY,
	O_KEY_FIELD,
	O_SKIP_INVALID,
	O_LIMIT,
	O_SKIP,
	O_REDIRECT,
	O_MAX_FAILURES,
	O_MAX_PER_CONN,
	O_MAX_RUNTIME,
	O_CAMPAIGN,
	O_ENV,
	O_CACERT,
	O_INSECURE,
	O_QUIET,
	O_VERBOSE,
	O_PROGRESS,
	O_ROW,
	O_JOURNAL,
	O_ON_UNCERTAIN,
	O_ONLY_FAILED,
	O_HELP,
	O_DKIM,
	O_DKIM_OMIT,
	O_UNSUB_SECRET,
	O_ENVELOPE_FROM,
	O_SUPPRESS,
	O_SUPPRESS_ADD,
	O_LISTEN,
	O_SECRET_FILE,
};

#define ALL (CMD_SEND | CMD_CHECK | CMD_RENDER)
/* Where send writes its report when -o does not say. */
#define DEFAULT_REPORT "herald-report.jsonl"
#define SC (CMD_SEND | CMD_CHECK)
#define US CMD_UNSUBSCRIBE

static const struct option_def {
	enum opt_id id;
	const char *name;  /* long name without -- */
	char short_name;   /* 0: none */
	const char *arg;   /* NULL: a flag; else the argument's name */
	unsigned commands; /* where it applies */
	const char *help;
} table[] = {
    {O_TEMPLATE, "template", 't', "FILE", ALL,
     ".eml (email) or .http (HTTP request) template"},
    {O_FORMAT, "format", 0, "csv|json|jsonl", ALL,
     "recipients format; needed when RECIPIENTS is -"},
    {O_DELIMITER, "delimiter", 0, "CHAR", ALL,
     "CSV field delimiter (default ','; 'tab' for a tab)"},
    {O_KEY, "key", 0, "FIELD|KEY", ALL,
     "send/check: the field that identifies a recipient (default: the "
     "envelope recipients for .eml; an email or id field, else the whole "
     "record, for .http); render: the key of the row to show"},
    {O_KEY_FIELD, "key-field", 0, "FIELD", ALL,
     "the field that identifies a recipient (same as send's --key)"},
    {O_ROW, "row", 0, "N", CMD_RENDER, "render: the row to show (1-based)"},
    {O_SMTP, "smtp", 0, "URL", SC,
     "smtp://host[:port] or smtps://host[:port] (env HERALD_SMTP_URL)"},
    {O_SMTP_USER, "smtp-user", 0, "USER", SC,
     "SMTP AUTH user (env HERALD_SMTP_USER); the password comes from env "
     "HERALD_SMTP_PASSWORD or --smtp-password-file"},
    {O_PASSWORD_FILE, "smtp-password-file", 0, "FILE", SC,
     "read the SMTP password from FILE (must not be readable by others)"},
    {O_ALLOW_PLAIN, "allow-plaintext-auth", 0, NULL, SC,
     "allow AUTH on a connection without TLS (refused by default)"},
    {O_OUTBOX, "outbox", 0, "DIR", SC,
     "write each message to DIR instead of sending (the default for "
     ".eml without --smtp: ./outbox)"},
    {O_DRY_RUN, "dry-run", 'n', NULL, SC,
     "render and validate everything, report dry-run, contact nobody"},
    {O_CONCURRENCY, "concurrency", 'c', "N", SC,
     "workers = most simultaneous connections (default 4)"},
    {O_RATE, "rate", 'r', "RATE", SC,
     "most sends started per second, all workers together: 10, 10/s, "
     "600/m, 5000/h"},
    {O_RETRIES, "retries", 0, "N", SC,
     "extra attempts after a transient failure (default 3)"},
    {O_TIMEOUT, "timeout", 0, "SEC", SC, "per-attempt time limit (default 30)"},
    {O_BACKOFF, "backoff", 0, "SEC", SC,
     "first retry waits up to SEC (default 1), doubling each time, "
     "capped at 60"},
    {O_REPORT, "report", 'o', "FILE", SC,
     "results report: .jsonl or .csv by extension, - for stdout (send's "
     "default: " DEFAULT_REPORT ")"},
    {O_JOURNAL, "journal", 0, "FILE", SC,
     "record every attempt in FILE, held under a lock: a rerun skips the "
     "rows already sent and sends the rest"},
    {O_ON_UNCERTAIN, "on-uncertain", 0, "resend|skip", SC,
     "what a rerun does with rows an earlier run left uncertain (default "
     "resend)"},
    {O_ONLY_FAILED, "only-failed", 0, "REPORT", SC,
     "take only the rows REPORT lists as failed or not-attempted (and "
     "uncertain, unless --on-uncertain skip)"},
    {O_SKIP_INVALID, "skip-invalid", 0, NULL, SC,
     "send the valid rows and report the invalid ones instead of "
     "refusing the run"},
    {O_LIMIT, "limit", 0, "N", SC, "take at most N rows (after --skip)"},
    {O_SKIP, "skip", 0, "N", SC, "leave out the first N rows"},
    {O_REDIRECT, "redirect", 0, "ADDR|URL", ALL,
     "deliver every message to this test address or URL instead, "
     "keeping the intended recipient in X-Original-To / X-Original-URL"},
    {O_MAX_FAILURES, "max-failures", 0, "N", SC,
     "stop after N failures in a row (default 20; 0: never; exit 75)"},
    {O_MAX_PER_CONN, "max-per-connection", 0, "N", SC,
     "open a fresh connection after N messages"},
    {O_MAX_RUNTIME, "max-runtime", 0, "DURATION", SC,
     "stop taking rows after this long: 90, 90s, 15m, 2h (exit 75)"},
    {O_CAMPAIGN, "campaign", 0, "NAME", ALL,
     "names this send; seeds Message-IDs and Idempotency-Keys (default: "
     "the journal's, else one per run)"},
    {O_ENV, "env", 0, "NAME", ALL,
     "let templates read environment variable NAME as {{env.NAME}} "
     "(repeatable)"},
    {O_CACERT, "cacert", 0, "FILE", SC, "trust the CAs in FILE for TLS"},
    {O_INSECURE, "insecure", 0, NULL, SC,
     "do not verify TLS certificates (never in production)"},
    {O_DKIM, "dkim", 0, "ALG:SELECTOR:DOMAIN:KEYFILE", ALL,
     "sign every email with DKIM (ALG rsa or ed25519; repeatable: one "
     "signature each); the key file must not be readable by others"},
    {O_DKIM_OMIT, "dkim-omit", 0, "HEADER", ALL,
     "leave HEADER out of the DKIM signatures, for relays that rewrite "
     "it (e.g. Message-ID through Amazon SES; repeatable)"},
    {O_UNSUB_SECRET, "unsubscribe-secret-file", 0, "FILE", ALL,
     "the secret that makes {{unsubscribe.token}} (the same file as "
     "unsubscribe-server's --secret-file)"},
    {O_ENVELOPE_FROM, "envelope-from", 0, "ADDR", ALL,
     "MAIL FROM (the bounce address) apart from From:; may use {{key}} "
     "and {{id}}: bounces+{{key}}@example.com"},
    {O_SUPPRESS, "suppress", 0, "FILE", SC | US,
     "suppression list (one key or address a line): send/check skip "
     "the rows it holds; unsubscribe-server appends to it"},
    {O_SUPPRESS_ADD, "suppress-add", 0, "FILE", CMD_SEND,
     "append recipients refused as nonexistent (SMTP 5.1.1 ...) to FILE"},
    {O_LISTEN, "listen", 0, "ADDR:PORT", US,
     "unsubscribe-server: where to listen, e.g. 127.0.0.1:8025 or "
     "[::1]:8025 (port 0: any free one)"},
    {O_SECRET_FILE, "secret-file", 0, "FILE", US,
     "unsubscribe-server: the secret the links were made with "
     "(send's --unsubscribe-secret-file)"},
    {O_QUIET, "quiet", 'q', NULL, ALL | US, "print only errors"},
    {O_VERBOSE, "verbose", 'v', NULL, ALL, "log every failed row"},
    {O_PROGRESS, "progress", 0, "auto|always|never", SC,
     "progress bar on stderr (auto: only on a terminal)"},
    {O_HELP, "help", 'h', NULL, ALL | US, "show this help"},
};

#define NOPT (sizeof(table) / sizeof(table[0]))

static const struct {
	const char *name;
	enum command cmd;
	const char *usage;
	const char *what;
} commands[] = {
    {"send", CMD_SEND, "herald send -t TEMPLATE [options] RECIPIENTS",
     "render and send one message per recipient"},
    {"check", CMD_CHECK, "herald check -t TEMPLATE [options] RECIPIENTS",
     "validate and render every row, send nothing"},
    {"render", CMD_RENDER,
     "herald render -t TEMPLATE (--row N | --key K) RECIPIENTS",
     "print the exact bytes one recipient would get (envelope on "
     "stderr)"},
    {"unsubscribe-server", CMD_UNSUBSCRIBE,
     "herald unsubscribe-server --listen ADDR:PORT --secret-file F "
     "--suppress FILE",
     "answer one-click unsubscribe links (RFC 8058) behind a TLS reverse "
     "proxy"},
};

#define NCMD (sizeof(commands) / sizeof(commands[0]))

void options_help(enum command cmd)
{
	if (cmd == CMD_NONE) {
		printf("herald %s — bulk notification sender\n\nUsage:\n",
		       HD_VERSION);
		for (size_t i = 0; i < NCMD; i++)
			printf("  %s\n      %s\n", commands[i].usage,
			       commands[i].what);
		printf("  herald --help | herald COMMAND --help | herald "
		       "--version\n\nRECIPIENTS is a .csv, .json (array of "
		       "objects), .jsonl/.ndjson file, or - for standard "
		       "input with --format.\nExit codes: 0 all sent, 1 some "
		       "failed or invalid, 64 usage, 65 bad input (nothing "
		       "sent),\n66 missing input, 73 cannot create output, "
		       "75 stopped (try again), 78 configuration.\n");
		return;
	}
	for (size_t i = 0; i < NCMD; i++) {
		if (commands[i].cmd != cmd)
			continue;
		printf("Usage: %s\n\n%s.\n\nOptions:\n", commands[i].usage,
		       commands[i].what);
	}
	for (size_t i = 0; i < NOPT; i++) {
		char left[64];
		if (!(table[i].commands & cmd))
			continue;
		snprintf(left, sizeof(left), "%s%c%s--%s%s%s",
			 table[i].short_name ? "-" : "",
			 table[i].short_name ? table[i].short_name : ' ',
			 table[i].short_name ? ", " : "  ", table[i].name,
			 table[i].arg ? " " : "",
			 table[i].arg ? table[i].arg : "");
		printf("  %-34s %s\n", table[i].short_name ? left : left + 1,
		       table[i].help);
	}
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "herald: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\nherald: see 'herald --help'\n");
	return 64;
}

static int parse_long(const char *s, long min, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

/* 90, 90s, 15m, 2h -> seconds */
static int parse_duration(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (*end == 'm' && !end[1])
		v *= 60;
	else if (*end == 'h' && !end[1])
		v *= 3600;
	else if (*end && !(*end == 's' && !end[1]))
		return -1;
	*out = v;
	return 0;
}

/* 10, 10/s, 600/m, 5000/h -> per second */
static int parse_rate(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v <= 0)
		return -1;
	if (*end == '/') {
		if (!strcmp(end, "/s"))
			;
		else if (!strcmp(end, "/m"))
			v /= 60;
		else if (!strcmp(end, "/h"))
			v /= 3600;
		else
			return -1;
	} else if (*end) {
		return -1;
	}
	*out = v;
	return 0;
}

static int read_password_file(struct options *o)
{
	struct stat st;
	FILE *fp = fopen(o->password_file, "r");
	char buf[1024];
	size_t n;

	if (!fp) {
		fprintf(stderr, "herald: %s: cannot open password file: %s\n",
			o->password_file, strerror(errno));
		return 66;
	}
	if (fstat(fileno(fp), &st) != 0 || (st.st_mode & (S_IROTH | S_IWOTH))) {
		fclose(fp);
		fprintf(stderr,
			"herald: %s: password file is readable by others; "
			"chmod o-rw it first\n",
			o->password_file);
		return 78;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	free(o->password);
	o->password = strdup(buf);
	memset(buf, 0, sizeof(buf));
	return o->password ? 0 : 70;
}

static int apply(struct options *o, const struct option_def *d, const char *v)
{
	hd_run_config *r = &o->run;
	long n;

	switch (d->id) {
	case O_TEMPLATE:
		r->template_path = v;
		break;
	case O_FORMAT:
		if (strcmp(v, "csv") && strcmp(v, "json") &&
		    strcmp(v, "jsonl") && strcmp(v, "ndjson"))
			return usage_error("--format must be csv, json or "
					   "jsonl, not '%s'%s",
					   v, "");
		r->format = v;
		break;
	case O_DELIMITER:
		if (!strcmp(v, "tab") || !strcmp(v, "\\t"))
			r->delimiter = '\t';
		else if (strlen(v) == 1 && v[0] != '"' && v[0] != '\n' &&
			 v[0] != '\r')
			r->delimiter = v[0];
		else
			return usage_error("--delimiter takes one character "
					   "or 'tab', not '%s'%s",
					   v, "");
		break;
	case O_KEY:
		if (o->cmd == CMD_RENDER)
			o->render_key = v;
		else
			r->key_field = v;
		break;
	case O_KEY_FIELD:
		r->key_field = v;
		break;
	case O_ROW:
		if (parse_long(v, 1, &o->render_row))
			return usage_error("--row takes a row number from 1, "
					   "not '%s'%s",
					   v, "");
		break;
	case O_SMTP:
		r->smtp_url = v;
		break;
	case O_SMTP_USER:
		r->smtp_user = v;
		break;
	case O_PASSWORD_FILE:
		o->password_file = v;
		break;
	case O_ALLOW_PLAIN:
		r->allow_plaintext_auth = 1;
		break;
	case O_OUTBOX:
		r->outbox_dir = v;
		break;
	case O_DRY_RUN:
		r->dry_run = 1;
		break;
	case O_CONCURRENCY:
		if (parse_long(v, 1, &n) || n > 1024)
			return usage_error("--concurrency takes 1 to 1024, "
					   "not '%s'%s",
					   v, "");
		r->concurrency = (unsigned)n;
		break;
	case O_RATE:
		if (parse_rate(v, &r->rate))
			return usage_error("--rate takes N, N/s, N/m or N/h, "
					   "not '%s'%s",
					   v, "");
		break;
	case O_RETRIES:
		if (parse_long(v, 0, &n) || n > 100)
			return usage_error("--retries takes 0 to 100, not "
					   "'%s'%s",
					   v, "");
		r->retries = (int)n;
		break;
	case O_TIMEOUT: {
		double s;
		if (parse_duration(v, &s) || s <= 0)
			return usage_error("--timeout takes seconds, not "
					   "'%s'%s",
					   v, "");
		r->timeout_ms = (long)(s * 1000);
		break;
	}
	case O_BACKOFF: {
		double s;
		if (parse_duration(v, &s))
			return usage_error("--backoff takes seconds, not "
					   "'%s'%s",
					   v, "");
		r->backoff_ms = s > 0 ? (long)(s * 1000) : 1;
		break;
	}
	case O_REPORT:
		r->report_path = v;
		break;
	case O_SKIP_INVALID:
		r->skip_invalid = 1;
		break;
	case O_LIMIT:
		if (parse_long(v, 1, &r->limit))
			return usage_error("--limit takes a number from 1, not "
					   "'%s'%s",
					   v, "");
		break;
	case O_SKIP:
		if (parse_long(v, 0, &r->skip))
			return usage_error("--skip takes a number from 0, not "
					   "'%s'%s",
					   v, "");
		break;
	case O_REDIRECT:
		r->redirect = v;
		break;
	case O_MAX_FAILURES:
		if (parse_long(v, 0, &r->max_failures))
			return usage_error("--max-failures takes a number from "
					   "0 (never stop), not '%s'%s",
					   v, "");
		if (r->max_failures == 0)
			r->max_failures = -1;
		break;
	case O_JOURNAL:
		r->journal_path = v;
		break;
	case O_ON_UNCERTAIN:
		if (!strcmp(v, "resend"))
			r->on_uncertain_skip = 0;
		else if (!strcmp(v, "skip"))
			r->on_uncertain_skip = 1;
		else
			return usage_error("--on-uncertain takes resend or "
					   "skip, not '%s'%s",
					   v, "");
		break;
	case O_ONLY_FAILED:
		r->only_failed = v;
		break;
	case O_MAX_PER_CONN:
		if (parse_long(v, 1, &r->max_per_connection))
			return usage_error(
			    "--max-per-connection takes a number "
			    "from 1, not '%s'%s",
			    v, "");
		break;
	case O_MAX_RUNTIME:
		if (parse_duration(v, &r->max_runtime) || r->max_runtime <= 0)
			return usage_error(
			    "--max-runtime takes 90, 90s, 15m or "
			    "2h, not '%s'%s",
			    v, "");
		break;
	case O_CAMPAIGN:
		if (!*v || strlen(v) > 60)
			return usage_error("--campaign takes a name of 1 to 60 "
					   "characters%s%s",
					   "", "");
		r->campaign = v;
		break;
	case O_ENV:
		if (r->n_env == MAX_ENV_NAMES)
			return usage_error("too many --env%s%s", "", "");
		o->env_names[r->n_env++] = v;
		break;
	case O_CACERT:
		r->cacert = v;
		break;
	case O_INSECURE:
		r->insecure = 1;
		break;
	case O_QUIET:
		o->quiet = 1;
		break;
	case O_VERBOSE:
		o->verbose = 1;
		r->verbose = 1;
		break;
	case O_PROGRESS:
		if (!strcmp(v, "auto"))
			o->progress = PROGRESS_AUTO;
		else if (!strcmp(v, "always"))
			o->progress = PROGRESS_ALWAYS;
		else if (!strcmp(v, "never"))
			o->progress = PROGRESS_NEVER;
		else
			return usage_error("--progress takes auto, always or "
					   "never, not '%s'%s",
					   v, "");
		break;
	case O_HELP:
		o->help = 1;
		break;
	case O_DKIM:
		if (r->mail.n_dkim == MAX_DKIM)
			return usage_error("at most %s --dkim%s", "8", "");
		o->dkim[r->mail.n_dkim++] = v;
		break;
	case O_DKIM_OMIT:
		if (r->mail.n_dkim_omit == MAX_DKIM_OMIT)
			return usage_error("at most %s --dkim-omit%s", "16",
					   "");
		o->dkim_omit[r->mail.n_dkim_omit++] = v;
		break;
	case O_UNSUB_SECRET:
		r->mail.unsubscribe_secret_file = v;
		break;
	case O_ENVELOPE_FROM:
		if (strpbrk(v, "\r\n<>"))
			return usage_error("--envelope-from takes a bare "
					   "address (no <>), one line%s%s",
					   "", "");
		r->mail.envelope_from = v;
		break;
	case O_SUPPRESS:
		if (o->cmd == CMD_UNSUBSCRIBE)
			o->unsub.suppress_path = v;
		else
			r->suppress_path = v;
		break;
	case O_SUPPRESS_ADD:
		r->suppress_add_path = v;
		break;
	case O_LISTEN:
		o->unsub.listen = v;
		break;
	case O_SECRET_FILE:
		o->unsub.secret_file = v;
		break;
	}
	return 0;
}

static const struct option_def *find_long(const char *name, size_t n)
{
	for (size_t i = 0; i < NOPT; i++)
		if (strlen(table[i].name) == n &&
		    !strncmp(table[i].name, name, n))
			return &table[i];
	return NULL;
}

static const struct option_def *find_short(char c)
{
	for (size_t i = 0; i < NOPT; i++)
		if (table[i].short_name == c)
			return &table[i];
	return NULL;
}

int options_parse(int argc, char **argv, struct options *o)
{
	const char *positional = NULL;
	int i = 1, rc;

	memset(o, 0, sizeof(*o));
	o->run.retries = -1;
	o->run.env_names = o->env_names;
	o->run.mail.dkim = o->dkim;
	o->run.mail.dkim_omit = o->dkim_omit;
	if (argc < 2)
		return usage_error("a command is needed: send, check, render "
				   "or unsubscribe-server%s%s",
				   "", "");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		o->help = 1;
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		o->version = 1;
		return 0;
	}
	for (size_t c = 0; c < NCMD; c++)
		if (!strcmp(argv[1], commands[c].name))
			o->cmd = commands[c].cmd;
	if (o->cmd == CMD_NONE)
		return usage_error("unknown command '%s'%s", argv[1], "");
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct option_def *d;

		if (!strcmp(a, "--")) {
			if (i + 1 < argc && !positional)
				positional = argv[++i];
			if (i + 1 < argc)
				return usage_error("unexpected argument '%s'%s",
						   argv[i + 1], "");
			break;
		}
		if (a[0] != '-' || !a[1]) {
			if (positional)
				return usage_error("one recipients file only; "
						   "unexpected '%s'%s",
						   a, "");
			positional = a;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			d = find_long(a + 2, n);
			if (!d)
				return usage_error("unknown option '%s'%s", a,
						   "");
			if (eq)
				val = eq + 1;
		} else {
			d = find_short(a[1]);
			if (!d)
				return usage_error("unknown option '%s'%s", a,
						   "");
			if (a[2])
				val = a + 2;
			if (val && !d->arg)
				return usage_error("'%s' takes no value%s", a,
						   "");
		}
		if (!(d->commands & o->cmd))
			return usage_error("--%s does not apply to %s", d->name,
					   argv[1]);
		if (d->arg && !val) {
			if (i + 1 >= argc)
				return usage_error("--%s needs %s", d->name,
						   d->arg);
			val = argv[++i];
		} else if (!d->arg && val && a[1] == '-') {
			return usage_error("--%s takes no value%s", d->name,
					   "");
		}
		rc = apply(o, d, val);
		if (rc)
			return rc;
	}
	if (o->help)
		return 0;
	if (o->cmd == CMD_UNSUBSCRIBE) {
		if (positional)
			return usage_error("unsubscribe-server takes no file; "
					   "unexpected '%s'%s",
					   positional, "");
		if (!o->unsub.listen || !o->unsub.secret_file ||
		    !o->unsub.suppress_path)
			return usage_error("unsubscribe-server needs --listen, "
					   "--secret-file and --suppress%s%s",
					   "", "");
		return 0;
	}
	o->run.recipients_path = positional;
	o->run.check_only = o->cmd == CMD_CHECK;
	if (!o->run.template_path)
		return usage_error("-t TEMPLATE is required%s%s", "", "");
	if (!positional)
		return usage_error("a RECIPIENTS file (or -) is required%s%s",
				   "", "");
	if (!strcmp(positional, "-") && !o->run.format)
		return usage_error("reading standard input needs --format "
				   "csv|json|jsonl%s%s",
				   "", "");
	if (o->cmd == CMD_RENDER && !o->render_row == !o->render_key)
		return usage_error("render needs --row N or --key K%s%s", "",
				   "");
	if (!o->run.smtp_url)
		o->run.smtp_url = getenv("HERALD_SMTP_URL");
	if (!o->run.smtp_user)
		o->run.smtp_user = getenv("HERALD_SMTP_USER");
	if (o->cmd != CMD_RENDER && o->run.outbox_dir && o->run.smtp_url &&
	    !getenv("HERALD_SMTP_URL"))
		return usage_error("--smtp and --outbox exclude each other%s%s",
				   "", "");
	if (o->cmd == CMD_SEND && o->run.outbox_dir)
		o->run.smtp_url = NULL; /* an explicit outbox wins over env */
	if (o->cmd == CMD_SEND && o->run.smtp_url) {
		if (o->password_file) {
			rc = read_password_file(o);
			if (rc)
				return rc;
		} else if (getenv("HERALD_SMTP_PASSWORD")) {
			o->password = strdup(getenv("HERALD_SMTP_PASSWORD"));
		}
		o->run.smtp_password = o->password;
	}
	/* a send always leaves a record of every row */
	if (o->cmd == CMD_SEND && !o->run.dry_run && !o->run.report_path)
		o->run.report_path = DEFAULT_REPORT;
	if (o->run.redirect && strchr(o->run.redirect, '\n'))
		return usage_error("--redirect must be one line%s%s", "", "");
	return 0;
}

void options_free(struct options *o)
{
	if (o->password) {
		memset(o->password, 0, strlen(o->password));
		free(o->password);
		o->password = NULL;
	}
}

/* options.c — the option table, parsing, the config file, generated help
 * and completion. */
#include "options.h"
#include "password.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
	O_HELP,
	O_CONFIG,
	O_PASSWORD_COMMAND,
	O_PASSWORD,
	O_VERSION,
	O_HTML,
	O_SLOWEST,
	O_JOURNAL,
	O_ON_UNCERTAIN,
	O_ONLY_FAILED,
	O_STREAMS,
	O_PER_HOST,
	O_PER_DOMAIN,
	O_DKIM,
	O_DKIM_OMIT,
	O_UNSUB_SECRET,
	O_ENVELOPE_FROM,
	O_SUPPRESS,
	O_SUPPRESS_ADD,
	O_LISTEN,
	O_SECRET_FILE,
	O_ENCODING,
	O_OUTBOX_CLEAN,
	O_CONNECT,
	O_TRACE,
	O_SHARD,
	O_SHARD_COUNT,
	O_ONE_PASS,
	O_GROUP,
	O_CONSUMER,
	O_JOURNAL_DIR,
	O_RESULTS,
	O_DEAD_LETTER,
	O_MAX_DELIVERIES,
	O_CLAIM_IDLE,
	O_EXIT_WHEN_IDLE,
	O_REDIS_PASSWORD_FILE,
	O_FIELD,
	O__COUNT
};

/* What an option is, beyond its argument. */
enum {
	F_SECRET = 1,	 /* a config file holding it must be private */
	F_FILE_ONLY = 2, /* never on the command line (argv is public) */
	F_NO_FILE = 4,	 /* never in a config file */
	F_REPEAT = 8,	 /* repeatable: the file's and argv's add up */
};

/* Alternatives that are one setting: choosing one on the command line
 * hides the config file's choice of another. */
enum { G_NONE, G_DEST, G_PASSWORD, G__COUNT };

#define RUN (CMD_SEND | CMD_CHECK | CMD_RENDER)
#define SC (CMD_SEND | CMD_CHECK)
#define US CMD_UNSUBSCRIBE
#define CON CMD_CONSUME
#define ENQ CMD_ENQUEUE
#define ANY (CMD_SEND | CMD_CHECK | CMD_RENDER | CMD_REPORT | US | CON | ENQ)
/* Where send writes its report when -o does not say. */
#define DEFAULT_REPORT "herald-report.jsonl"

static const struct option_def {
	enum opt_id id;
	const char *name;  /* long name without -- */
	char short_name;   /* 0: none */
	const char *arg;   /* NULL: a flag; else the argument's name; lower
			      case words with | are the only choices */
	unsigned commands; /* where it applies */
	unsigned flags;	   /* F_* */
	int group;	   /* G_* */
	const char *help;
} table[] = {
    {O_TEMPLATE, "template", 't', "FILE", (RUN | CON | ENQ), 0, G_NONE,
     ".eml (email) or .http (HTTP request) template"},
    {O_FORMAT, "format", 0, "csv|json|jsonl", (RUN | ENQ), 0, G_NONE,
     "recipients format; needed when RECIPIENTS is -"},
    {O_DELIMITER, "delimiter", 0, "CHAR", (RUN | ENQ), 0, G_NONE,
     "CSV field delimiter (default ','; 'tab' for a tab)"},
    {O_ENCODING, "encoding", 0, "NAME", RUN, 0, G_NONE,
     "the recipients file's character set when it is not UTF-8: an iconv "
     "name such as WINDOWS-1252, ISO-8859-15 or UTF-16 ('iconv -l' lists "
     "them)"},
    {O_KEY, "key", 0, "FIELD|KEY", (RUN | CON | ENQ), 0, G_NONE,
     "send, check: the field that identifies a recipient (default: the "
     "envelope recipients for .eml; an email or id field, else the whole "
     "record, for .http); render: the key of the row to show"},
    {O_KEY_FIELD, "key-field", 0, "FIELD", (RUN | CON | ENQ), 0, G_NONE,
     "the field that identifies a recipient (same as send's --key)"},
    {O_ROW, "row", 0, "N", CMD_RENDER, 0, G_NONE,
     "the row to show (1-based, a CSV header not counted)"},
    {O_SMTP, "smtp", 0, "URL", (SC | CON), 0, G_DEST,
     "smtp://host[:port] or smtps://host[:port] (env HERALD_SMTP_URL)"},
    {O_SMTP_USER, "smtp-user", 0, "USER", (SC | CON), 0, G_NONE,
     "SMTP AUTH user (env HERALD_SMTP_USER); the password comes from a "
     "config file, --smtp-password-file, --smtp-password-command or env "
     "HERALD_SMTP_PASSWORD, never from the command line"},
    {O_PASSWORD_FILE, "smtp-password-file", 0, "FILE", (SC | CON), 0,
     G_PASSWORD,
     "read the SMTP password from FILE's first line (FILE must not be "
     "readable by others)"},
    {O_PASSWORD_COMMAND, "smtp-password-command", 0, "CMD", (SC | CON),
     F_SECRET, G_PASSWORD,
     "run CMD with /bin/sh -c and take the first line it prints as the "
     "SMTP password (like msmtp's passwordeval)"},
    {O_PASSWORD, "smtp-password", 0, "PASSWORD", (SC | CON),
     F_SECRET | F_FILE_ONLY, G_PASSWORD,
     "config file only (which others may then not read): the SMTP "
     "password"},
    {O_ALLOW_PLAIN, "allow-plaintext-auth", 0, NULL, (SC | CON), 0, G_NONE,
     "allow AUTH on a connection without TLS (refused by default)"},
    {O_OUTBOX, "outbox", 0, "DIR", (SC | CON), 0, G_DEST,
     "write each message to DIR instead of sending (the default for .eml "
     "without --smtp: ./outbox)"},
    {O_OUTBOX_CLEAN, "outbox-clean", 0, NULL, CMD_SEND, 0, G_NONE,
     "remove the messages an earlier run left in the outbox (NNNNNN.eml, "
     ".http) first; without it such a folder is refused"},
    {O_DRY_RUN, "dry-run", 'n', NULL, CMD_SEND, 0, G_NONE,
     "render and validate everything, report dry-run, contact nobody"},
    {O_CONCURRENCY, "concurrency", 'c', "N", (CMD_SEND | CON), 0, G_NONE,
     "workers = most simultaneous connections (default 4)"},
    {O_RATE, "rate", 'r', "RATE", (CMD_SEND | CON), 0, G_NONE,
     "most sends started per second, all workers together: 10, 10/s, "
     "600/min, 5000/hour (also /m, /h)"},
    {O_RETRIES, "retries", 0, "N", (CMD_SEND | CON), 0, G_NONE,
     "extra attempts after a transient failure (default 3)"},
    {O_TIMEOUT, "timeout", 0, "SEC", (SC | CON), 0, G_NONE,
     "per-attempt time limit (default 30)"},
    {O_BACKOFF, "backoff", 0, "SEC", (CMD_SEND | CON), 0, G_NONE,
     "first retry waits up to SEC (default 1), doubling each time, capped "
     "at 60"},
    {O_REPORT, "report", 'o', "FILE", (SC | CON), 0, G_NONE,
     "results report: .csv by extension, else JSON Lines; - for stdout "
     "(send's default: " DEFAULT_REPORT ")"},
    {O_JOURNAL, "journal", 0, "FILE", SC, 0, G_NONE,
     "record every attempt in FILE, held under a lock: a rerun skips the "
     "rows already sent and sends the rest"},
    {O_ON_UNCERTAIN, "on-uncertain", 0, "resend|skip", (SC | CON), 0, G_NONE,
     "what a rerun does with rows an earlier run left uncertain (default "
     "resend)"},
    {O_ONLY_FAILED, "only-failed", 0, "REPORT", SC, 0, G_NONE,
     "take only the rows REPORT lists as failed or not-attempted (and "
     "uncertain, unless --on-uncertain skip)"},
    {O_ONE_PASS, "one-pass", 0, NULL, SC, 0, G_NONE,
     "read the list once, as it comes (standard input is not copied): each "
     "row is checked and sent by itself, invalid ones reported (as with "
     "--skip-invalid); duplicates found among the last 65536 keys and by "
     "the journal"},
    {O_SKIP_INVALID, "skip-invalid", 0, NULL, (SC | ENQ), 0, G_NONE,
     "send the valid rows and report the invalid ones instead of refusing "
     "the run"},
    {O_LIMIT, "limit", 0, "N", SC, 0, G_NONE,
     "take at most N rows (after --skip)"},
    {O_SKIP, "skip", 0, "N", SC, 0, G_NONE, "leave out the first N rows"},
    {O_SHARD, "shard", 0, "K/N", SC, 0, G_NONE,
     "take only the rows of shard K of N (K from 0), by a stable hash of "
     "the key; default: from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID"},
    {O_SHARD_COUNT, "shard-count", 0, "N", SC, 0, G_NONE,
     "the number of shards when JOB_COMPLETION_INDEX gives K (env "
     "HERALD_SHARD_COUNT)"},
    {O_REDIRECT, "redirect", 0, "ADDR|URL", (RUN | CON | ENQ), 0, G_NONE,
     "deliver every message to this test address or URL instead, keeping "
     "the intended recipient in X-Original-To / X-Original-URL"},
    {O_MAX_FAILURES, "max-failures", 0, "N", (CMD_SEND | CON), 0, G_NONE,
     "stop after N failures in a row (default 20; 0: never; exit 75)"},
    {O_MAX_PER_CONN, "max-per-connection", 0, "N", (CMD_SEND | CON), 0, G_NONE,
     "open a fresh connection after N messages"},
    {O_MAX_RUNTIME, "max-runtime", 0, "DURATION", (CMD_SEND | CON), 0, G_NONE,
     "stop taking rows after this long: 90, 90s, 15m, 2h (exit 75)"},
    {O_CAMPAIGN, "campaign", 0, "NAME", (RUN | CON), 0, G_NONE,
     "names this send; seeds Message-IDs and Idempotency-Keys (default: "
     "the journal's, else one per run)"},
    {O_ENV, "env", 0, "NAME", (RUN | CON | ENQ), F_REPEAT, G_NONE,
     "let templates read environment variable NAME as {{env.NAME}} "
     "(repeatable)"},
    {O_CACERT, "cacert", 0, "FILE", (SC | CON), 0, G_NONE,
     "trust the CAs in FILE for TLS"},
    {O_INSECURE, "insecure", 0, NULL, (SC | CON), 0, G_NONE,
     "do not verify TLS certificates (never in production)"},
    {O_STREAMS, "streams", 0, "N", (CMD_SEND | CON), 0, G_NONE,
     "HTTP/2: up to N requests share one connection (-c 4 --streams 100: "
     "400 in flight over 4 connections)"},
    {O_PER_HOST, "per-host", 0, "N", (CMD_SEND | CON), 0, G_NONE,
     ".http: at most N requests in flight to one host and port"},
    {O_PER_DOMAIN, "per-domain", 0, "N", (CMD_SEND | CON), 0, G_NONE,
     ".eml: at most N messages in flight to one recipient domain"},
    {O_DKIM, "dkim", 0, "ALG:SELECTOR:DOMAIN:KEYFILE", (RUN | CON | ENQ),
     F_REPEAT, G_NONE,
     "sign every email with DKIM (ALG rsa or ed25519; repeatable: one "
     "signature each); the key file must not be readable by others"},
    {O_DKIM_OMIT, "dkim-omit", 0, "HEADER", (RUN | CON | ENQ), F_REPEAT, G_NONE,
     "leave HEADER out of the DKIM signatures, for relays that rewrite it "
     "(e.g. Message-ID through Amazon SES; repeatable)"},
    {O_UNSUB_SECRET, "unsubscribe-secret-file", 0, "FILE", (RUN | CON | ENQ), 0,
     G_NONE,
     "the secret that makes {{unsubscribe.token}} (the same file as "
     "unsubscribe-server's --secret-file)"},
    {O_ENVELOPE_FROM, "envelope-from", 0, "ADDR", (RUN | CON | ENQ), 0, G_NONE,
     "MAIL FROM (the bounce address) apart from From:; may use {{key}} and "
     "{{id}}: bounces+{{key}}@example.com"},
    {O_SUPPRESS, "suppress", 0, "FILE", (SC | US | CON), 0, G_NONE,
     "suppression list (one key or address a line): send and check skip "
     "the rows it holds; unsubscribe-server appends to it"},
    {O_SUPPRESS_ADD, "suppress-add", 0, "FILE", (CMD_SEND | CON), 0, G_NONE,
     "append recipients refused as nonexistent (SMTP 5.1.1 ...) to FILE"},
    {O_LISTEN, "listen", 0, "ADDR:PORT", US, 0, G_NONE,
     "where to listen, e.g. 127.0.0.1:8025 or [::1]:8025 (port 0: any "
     "free one)"},
    {O_SECRET_FILE, "secret-file", 0, "FILE", US, 0, G_NONE,
     "the secret the links were made with (send's "
     "--unsubscribe-secret-file)"},
    {O_GROUP, "group", 0, "GROUP", CON, 0, G_NONE,
     "the consumer group to read the stream through (created when "
     "missing, from the stream's first entry)"},
    {O_CONSUMER, "consumer", 0, "NAME", CON, 0, G_NONE,
     "this consumer's name in the group, and its journal's file name "
     "(default: the host name)"},
    {O_JOURNAL_DIR, "journal-dir", 0, "DIR", CON, 0, G_NONE,
     "required: DIR/NAME.journal is this consumer's journal; the other "
     "consumers' journals there are read when their entries are taken "
     "over"},
    {O_RESULTS, "results", 0, "STREAM", CON, 0, G_NONE,
     "add each entry's outcome (its report line) to STREAM, in the same "
     "MULTI/EXEC as its XACK"},
    {O_DEAD_LETTER, "dead-letter", 0, "STREAM", CON, 0, G_NONE,
     "where entries go after --max-deliveries (default: the stream's "
     "name with :dead)"},
    {O_MAX_DELIVERIES, "max-deliveries", 0, "N", CON, 0, G_NONE,
     "an entry delivered N times without success goes to the dead-letter "
     "stream (default 5; 0: never)"},
    {O_CLAIM_IDLE, "claim-idle", 0, "DURATION", CON, 0, G_NONE,
     "take over entries another consumer left pending this long: 30s, 5m "
     "(default 60s)"},
    {O_EXIT_WHEN_IDLE, "exit-when-idle", 0, "DURATION", CON, 0, G_NONE,
     "end (exit 0) once nothing came for this long, for cron"},
    {O_REDIS_PASSWORD_FILE, "redis-password-file", 0, "FILE", CON | ENQ, 0,
     G_NONE,
     "read the Redis password from FILE's first line (FILE must not be "
     "readable by others; else env HERALD_REDIS_PASSWORD)"},
    {O_FIELD, "field", 0, "NAME", CON | ENQ, 0, G_NONE,
     "the entries' field that holds the record as JSON (default record)"},
    {O_HTML, "html", 0, "FILE", CMD_REPORT, 0, G_NONE,
     "also write the summary as one self-contained HTML page with a "
     "timeline"},
    {O_SLOWEST, "slowest", 0, "N", CMD_REPORT, 0, G_NONE,
     "list the N slowest rows (default 10, at most 1000)"},
    {O_CONNECT, "connect", 0, NULL, CMD_CHECK, 0, G_NONE,
     "also open the connection a send would, one line a step: DNS, TCP, "
     "TLS, AUTH, and MAIL FROM and RCPT TO of the first three rows (never "
     "DATA); for .http DNS, TCP and TLS of their hosts"},
    {O_TRACE, "trace", 0, "FILE", SC, 0, G_NONE,
     "write the SMTP or HTTP conversation of every attempt to FILE, "
     "passwords and tokens masked (for debugging)"},
    {O_QUIET, "quiet", 'q', NULL, (RUN | US | CON | ENQ), 0, G_NONE,
     "print only errors"},
    {O_VERBOSE, "verbose", 'v', NULL, (RUN | CON), 0, G_NONE,
     "log every failed row, and each retry and slow-down as it is decided"},
    {O_PROGRESS, "progress", 0, "auto|always|never", (SC | CON), 0, G_NONE,
     "progress line on stderr (auto: only on a terminal)"},
    {O_CONFIG, "config", 0, "FILE", ANY, F_NO_FILE, G_NONE,
     "read options from FILE: 'option = value' lines (env HERALD_CONFIG); "
     "the command line wins"},
    {O_VERSION, "version", 'V', NULL, ANY, F_NO_FILE, G_NONE,
     "print the version and exit"},
    {O_HELP, "help", 'h', NULL, ANY, F_NO_FILE, G_NONE,
     "show this help and exit"},
};

#define NOPT (sizeof(table) / sizeof(table[0]))

static const struct command_def {
	const char *name;
	enum command cmd;
	const char *usage;
	const char *what;
} commands[] = {
    {"send", CMD_SEND, "herald send -t TEMPLATE [options] RECIPIENTS",
     "render and send one message per recipient"},
    {"check", CMD_CHECK, "herald check -t TEMPLATE [options] RECIPIENTS",
     "validate and render every row as send would, send nothing"},
    {"render", CMD_RENDER,
     "herald render -t TEMPLATE (--row N | --key K) [options] RECIPIENTS",
     "print the exact bytes one recipient would get (the SMTP envelope on "
     "stderr)"},
    {"unsubscribe-server", CMD_UNSUBSCRIBE,
     "herald unsubscribe-server --listen ADDR:PORT --secret-file F "
     "--suppress FILE",
     "answer one-click unsubscribe links (RFC 8058) behind a TLS reverse "
     "proxy"},
    {"consume", CMD_CONSUME,
     "herald consume redis://HOST[:PORT][/DB]/STREAM --group G -t TEMPLATE "
     "--journal-dir DIR [options]",
     "send one message per entry of a Redis stream, read through a "
     "consumer group, until stopped"},
    {"enqueue", CMD_ENQUEUE,
     "herald enqueue [-t TEMPLATE] [options] redis://HOST[:PORT][/DB]/STREAM "
     "RECIPIENTS",
     "add one stream entry per recipient row (validated as check does "
     "with -t)"},
    {"report", CMD_REPORT, "herald report [--html OUT] [options] REPORT",
     "summarise a results report: counts, latency, errors, slowest rows"},
    {"help", CMD_HELP, "herald help [COMMAND]",
     "show the overview, or one command's options"},
    {"version", CMD_VERSION, "herald version", "print the version"},
    {"completion", CMD_COMPLETION, "herald completion bash",
     "print a bash completion script made from the option table"},
};

#define NCMD (sizeof(commands) / sizeof(commands[0]))

/* ---- output: help wrapped to 80 columns ------------------------------- */

#define WIDTH 79    /* the last column free: no terminal wraps early */
#define LEFT_MAX 28 /* widest option column; longer ones get a line */

/* Display columns of s[0..n): UTF-8 continuation bytes take none. */
static int columns(const char *s, size_t n)
{
	int c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/* Prints text from column col, breaking between words before WIDTH;
 * continuation lines start at column indent.  Ends the line. */
static void print_wrapped(int col, int indent, const char *text)
{
	const char *p = text;
	int first = 1;

	while (*p) {
		size_t w = strcspn(p, " ");
		int wc = columns(p, w);

		if (!first && col + 1 + wc > WIDTH) {
			printf("\n%*s", indent, "");
			col = indent;
			first = 1;
		}
		if (!first) {
			putchar(' ');
			col++;
		}
		fwrite(p, 1, w, stdout);
		col += wc;
		first = 0;
		p += w;
		while (*p == ' ')
			p++;
	}
	putchar('\n');
}

static const struct command_def *command_of(enum command cmd)
{
	for (size_t i = 0; i < NCMD; i++)
		if (commands[i].cmd == cmd)
			return &commands[i];
	return NULL;
}

static void option_left(const struct option_def *d, char *out, size_t size)
{
	if (d->short_name)
		snprintf(out, size, "-%c, --%s%s%s", d->short_name, d->name,
			 d->arg ? " " : "", d->arg ? d->arg : "");
	else
		snprintf(out, size, "    --%s%s%s", d->name, d->arg ? " " : "",
			 d->arg ? d->arg : "");
}

static void help_overview(void)
{
	printf("herald %s - bulk notification sender\n\n", HD_VERSION);
	printf("Usage: herald COMMAND [options] [FILE]\n\nCommands:\n");
	for (size_t i = 0; i < NCMD; i++) {
		/* a name too long for the column gets a line of its own */
		if (strlen(commands[i].name) > 11)
			printf("  %s\n%14s", commands[i].name, "");
		else
			printf("  %-12s", commands[i].name);
		print_wrapped(14, 14, commands[i].what);
	}
	putchar('\n');
	print_wrapped(0, 0,
		      "RECIPIENTS is a .csv, .json (array of objects), "
		      ".jsonl/.ndjson file, or - for standard input with "
		      "--format. Options may also come from a config file "
		      "(--config FILE or env HERALD_CONFIG).");
	putchar('\n');
	print_wrapped(0, 0,
		      "Exit codes: 0 all sent, 1 some failed or invalid, 64 "
		      "usage, 65 bad input (nothing sent), 66 missing input, "
		      "73 cannot create output, 75 stopped (try again), 78 "
		      "configuration.");
	putchar('\n');
	print_wrapped(0, 0,
		      "'herald help COMMAND' (or 'herald COMMAND --help') "
		      "lists the options of one command; 'man herald' and "
		      "'man herald-templates' have the whole manual.");
}

void options_help(enum command cmd)
{
	const struct command_def *c = command_of(cmd);
	char what[256];
	int left = 0;

	if (cmd == CMD_NONE || cmd == CMD_HELP || !c) {
		help_overview();
		return;
	}
	snprintf(what, sizeof(what), "%s.", c->what);
	what[0] = (char)(what[0] - 'a' + 'A');
	printf("Usage: %s\n\n", c->usage);
	print_wrapped(0, 0, what);
	if (cmd & (CMD_VERSION | CMD_COMPLETION))
		return;
	printf("\nOptions:\n");
	for (size_t i = 0; i < NOPT; i++) {
		char l[96];
		int n;
		if (!(table[i].commands & cmd))
			continue;
		option_left(&table[i], l, sizeof(l));
		n = columns(l, strlen(l));
		if (n > left && n <= LEFT_MAX)
			left = n;
	}
	for (size_t i = 0; i < NOPT; i++) {
		char l[96];
		int n;
		if (!(table[i].commands & cmd))
			continue;
		option_left(&table[i], l, sizeof(l));
		n = columns(l, strlen(l));
		printf("  %s", l);
		if (n > left)
			printf("\n%*s", left + 4, "");
		else
			printf("%*s", left - n + 2, "");
		print_wrapped(left + 4, left + 4, table[i].help);
	}
}

/* ---- completion -------------------------------------------------------- */

static int is_choice(const char *arg)
{
	return arg && strchr(arg, '|') &&
	       strspn(arg, "abcdefghijklmnopqrstuvwxyz|") == strlen(arg);
}

static void print_option_words(const struct option_def *d)
{
	printf("--%s", d->name);
	if (d->short_name)
		printf(" -%c", d->short_name);
}

int options_completion(const char *shell)
{
	if (shell && !strcmp(shell, "options")) {
		for (size_t i = 0; i < NOPT; i++)
			printf("%s\n", table[i].name);
		return 0;
	}
	if (shell && strcmp(shell, "bash")) {
		fprintf(stderr,
			"herald: completion for '%s' is not made; only "
			"bash\n",
			shell);
		return 64;
	}
	printf("# bash completion for herald %s, generated from its option "
	       "table\n# by 'herald completion bash'\n_herald()\n{\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]} "
	       "prev=${COMP_WORDS[COMP_CWORD-1]} opts=\n"
	       "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"",
	       HD_VERSION);
	for (size_t i = 0; i < NCMD; i++)
		printf("%s%s", i ? " " : "", commands[i].name);
	printf(" --help --version -h -V\" -- \"$cur\"))\n\t\treturn\n\tfi\n"
	       "\tcase ${COMP_WORDS[1]} in\n\thelp)\n"
	       "\t\tCOMPREPLY=($(compgen -W \"");
	for (size_t i = 0; i < NCMD; i++)
		printf("%s%s", i ? " " : "", commands[i].name);
	printf("\" -- \"$cur\"))\n\t\treturn ;;\n\tcompletion)\n"
	       "\t\tCOMPREPLY=($(compgen -W \"bash\" -- \"$cur\"))\n"
	       "\t\treturn ;;\n\tesac\n\tcase $prev in\n");
	/* an option's argument: choices, folders, files, or nothing */
	for (size_t i = 0; i < NOPT; i++) {
		const struct option_def *d = &table[i];
		if (!d->arg || (d->flags & F_FILE_ONLY))
			continue;
		printf("\t--%s", d->name);
		if (d->short_name)
			printf("|-%c", d->short_name);
		if (is_choice(d->arg)) {
			printf(")\n\t\tCOMPREPLY=($(compgen -W \"");
			for (const char *p = d->arg; *p; p++)
				putchar(*p == '|' ? ' ' : *p);
			printf("\" -- \"$cur\"))\n\t\treturn ;;\n");
		} else if (!strcmp(d->arg, "DIR")) {
			printf(")\n\t\tCOMPREPLY=($(compgen -d -- \"$cur\"))\n"
			       "\t\treturn ;;\n");
		} else if (!strcmp(d->arg, "FILE")) {
			printf(")\n\t\tcompopt -o filenames 2>/dev/null\n"
			       "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
			       "\t\treturn ;;\n");
		} else {
			printf(")\n\t\treturn ;;\n");
		}
	}
	printf("\tesac\n\tcase ${COMP_WORDS[1]} in\n");
	for (size_t c = 0; c < NCMD; c++) {
		int any = 0;
		printf("\t%s)\n\t\topts=\"", commands[c].name);
		for (size_t i = 0; i < NOPT; i++) {
			if (!(table[i].commands & commands[c].cmd) ||
			    (table[i].flags & F_FILE_ONLY))
				continue;
			if (any++)
				putchar(' ');
			print_option_words(&table[i]);
		}
		printf("\" ;;\n");
	}
	printf("\tesac\n\tif [[ $cur == -* ]]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	       "\telse\n\t\tcompopt -o filenames 2>/dev/null\n"
	       "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\tfi\n}\n"
	       "complete -F _herald herald\n");
	return 0;
}

/* ---- did you mean ------------------------------------------------------ */

static const char *option_name(void *ctx, size_t i)
{
	(void)ctx;
	return table[i].flags & F_FILE_ONLY ? NULL : table[i].name;
}

static const char *option_name_any(void *ctx, size_t i)
{
	(void)ctx;
	return table[i].name;
}

static const char *command_name(void *ctx, size_t i)
{
	(void)ctx;
	return commands[i].name;
}

/* The choices of an option's argument, "a|b|c", split into words. */
struct choices {
	char words[8][16];
	size_t n;
};

static const char *choice_word(void *ctx, size_t i)
{
	return ((const struct choices *)ctx)->words[i];
}

/* ---- parsing ----------------------------------------------------------- */

struct parser {
	struct options *o;
	const char *cmd_name;
	const char *file; /* the config file being read, else NULL */
	long line;
	/* the option that chose each group: [0] argv, [1] config file */
	enum opt_id group_by[2][G__COUNT];
	unsigned char on_argv[O__COUNT];
};

/* One line: "herald: [FILE:LINE: ]message".  Returns 64 for the command
 * line, 78 for a config file. */
HD_PRINTF(2, 3)
static int fail(const struct parser *p, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "herald: ");
	if (p->file)
		fprintf(stderr, "%s:%ld: ", p->file, p->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return p->file ? 78 : 64;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* 90, 90s, 15m, 2h -> seconds */
static int parse_duration(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0 || v != v)
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

/* Units of --rate: N/UNIT is N per this many seconds. */
static const struct {
	const char *unit;
	double seconds;
} rate_units[] = {
    {"s", 1},	 {"sec", 1},	 {"second", 1}, {"m", 60},
    {"min", 60}, {"minute", 60}, {"h", 3600},	{"hour", 3600},
};

/* 10, 10/s, 600/min, 5000/hour -> per second */
static int parse_rate(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || !(v > 0) || v > 1e9)
		return -1;
	if (*end == '/') {
		size_t i;
		for (i = 0; i < sizeof(rate_units) / sizeof(rate_units[0]); i++)
			if (!strcmp(end + 1, rate_units[i].unit))
				break;
		if (i == sizeof(rate_units) / sizeof(rate_units[0]))
			return -1;
		v /= rate_units[i].seconds;
	} else if (*end) {
		return -1;
	}
	*out = v;
	return 0;
}

/* A value that is not one of the choices of d: one line, with the
 * nearest choice when one is near. */
static int bad_choice(const struct parser *p, const struct option_def *d,
		      const char *v)
{
	struct choices c = {.n = 0};
	const char *best, *s = d->arg;

	while (*s && c.n < 8) {
		size_t w = strcspn(s, "|");
		snprintf(c.words[c.n], sizeof(c.words[c.n]), "%.*s", (int)w, s);
		c.n++;
		s += w + (s[w] == '|');
	}
	best = hd_nearest(v, c.n, choice_word, &c);
	if (best)
		return fail(p, "--%s takes %s, not '%s'; did you mean '%s'?",
			    d->name, d->arg, v, best);
	return fail(p, "--%s takes %s, not '%s'", d->name, d->arg, v);
}

static int apply(struct parser *p, const struct option_def *d, const char *v)
{
	struct options *o = p->o;
	hd_run_config *r = &o->run;
	long n;

	switch (d->id) {
	case O_TEMPLATE:
		r->template_path = v;
		break;
	case O_FORMAT:
		if (strcmp(v, "csv") && strcmp(v, "json") &&
		    strcmp(v, "jsonl") && strcmp(v, "ndjson"))
			return bad_choice(p, d, v);
		r->format = v;
		break;
	case O_DELIMITER:
		if (!strcmp(v, "tab") || !strcmp(v, "\\t"))
			r->delimiter = '\t';
		else if (strlen(v) == 1 && v[0] != '"' && v[0] != '\n' &&
			 v[0] != '\r')
			r->delimiter = v[0];
		else
			return fail(p,
				    "--delimiter takes one character or "
				    "'tab', not '%s'",
				    v);
		break;
	case O_ENCODING:
		if (!*v || strlen(v) > 60)
			return fail(p, "--encoding takes an iconv name such as "
				       "WINDOWS-1252");
		r->encoding = v;
		break;
	case O_KEY:
		/* in a config file --key describes the list: the key field,
		 * also for render */
		if (o->cmd == CMD_RENDER && !p->file)
			o->render_key = v;
		else
			r->key_field = v;
		break;
	case O_KEY_FIELD:
		r->key_field = v;
		break;
	case O_ROW:
		if (parse_long(v, 1, LONG_MAX, &o->render_row))
			return fail(p,
				    "--row takes a row number from 1, not "
				    "'%s'",
				    v);
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
	case O_PASSWORD_COMMAND:
		if (!*v)
			return fail(p, "--smtp-password-command needs a "
				       "command");
		o->password_command = v;
		break;
	case O_PASSWORD:
		o->config_password = v;
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
	case O_OUTBOX_CLEAN:
		r->outbox_clean = 1;
		break;
	case O_CONNECT:
		o->connect = 1;
		break;
	case O_TRACE:
		r->trace_path = v;
		break;
	case O_CONCURRENCY:
		if (parse_long(v, 1, 1024, &n))
			return fail(
			    p, "--concurrency takes 1 to 1024, not '%s'", v);
		r->concurrency = (unsigned)n;
		break;
	case O_RATE:
		if (parse_rate(v, &r->rate))
			return fail(p,
				    "--rate takes N, N/s, N/min or N/hour "
				    "(also /m, /h), not '%s'",
				    v);
		break;
	case O_RETRIES:
		if (parse_long(v, 0, 100, &n))
			return fail(p, "--retries takes 0 to 100, not '%s'", v);
		r->retries = (int)n;
		break;
	case O_TIMEOUT: {
		double s;
		if (parse_duration(v, &s) || s <= 0 || s > 86400)
			return fail(p, "--timeout takes seconds, not '%s'", v);
		r->timeout_ms = (long)(s * 1000);
		break;
	}
	case O_BACKOFF: {
		double s;
		if (parse_duration(v, &s) || s > 3600)
			return fail(p, "--backoff takes seconds, not '%s'", v);
		r->backoff_ms = s > 0 ? (long)(s * 1000) : 1;
		break;
	}
	case O_REPORT:
		r->report_path = v;
		break;
	case O_SKIP_INVALID:
		r->skip_invalid = 1;
		break;
	case O_ONE_PASS:
		r->one_pass = 1;
		break;
	case O_LIMIT:
		if (parse_long(v, 1, LONG_MAX, &r->limit))
			return fail(
			    p, "--limit takes a number from 1, not '%s'", v);
		break;
	case O_SKIP:
		if (parse_long(v, 0, LONG_MAX, &r->skip))
			return fail(p, "--skip takes a number from 0, not '%s'",
				    v);
		break;
	case O_REDIRECT:
		if (strchr(v, '\n'))
			return fail(p, "--redirect must be one line");
		r->redirect = v;
		break;
	case O_MAX_FAILURES:
		if (parse_long(v, 0, LONG_MAX, &r->max_failures))
			return fail(p,
				    "--max-failures takes a number from 0 "
				    "(never stop), not '%s'",
				    v);
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
			return bad_choice(p, d, v);
		break;
	case O_ONLY_FAILED:
		r->only_failed = v;
		break;
	case O_STREAMS:
		if (parse_long(v, 1, 1000, &r->streams))
			return fail(p, "--streams takes 1 to 1000, not '%s'",
				    v);
		break;
	case O_PER_HOST:
		if (parse_long(v, 1, LONG_MAX, &r->per_host))
			return fail(p,
				    "--per-host takes a number from 1, not "
				    "'%s'",
				    v);
		break;
	case O_PER_DOMAIN:
		if (parse_long(v, 1, LONG_MAX, &r->per_domain))
			return fail(p,
				    "--per-domain takes a number from 1, not "
				    "'%s'",
				    v);
		break;
	case O_DKIM:
		if (r->mail.n_dkim == MAX_DKIM)
			return fail(p, "at most %d --dkim", MAX_DKIM);
		o->dkim[r->mail.n_dkim++] = v;
		break;
	case O_DKIM_OMIT:
		if (r->mail.n_dkim_omit == MAX_DKIM_OMIT)
			return fail(p, "at most %d --dkim-omit", MAX_DKIM_OMIT);
		o->dkim_omit[r->mail.n_dkim_omit++] = v;
		break;
	case O_UNSUB_SECRET:
		r->mail.unsubscribe_secret_file = v;
		break;
	case O_ENVELOPE_FROM:
		if (strpbrk(v, "\r\n<>"))
			return fail(p, "--envelope-from takes a bare address "
				       "(no <>), one line");
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
	case O_SHARD:
		o->shard_spec = v;
		break;
	case O_SHARD_COUNT:
		if (parse_long(v, 1, 1000000, &o->shard_count))
			return fail(p,
				    "--shard-count takes 1 to 1000000, not "
				    "'%s'",
				    v);
		break;
	case O_GROUP:
		o->consume.group = v;
		break;
	case O_CONSUMER:
		o->consume.consumer = v;
		break;
	case O_JOURNAL_DIR:
		o->consume.journal_dir = v;
		break;
	case O_RESULTS:
		o->consume.results = v;
		break;
	case O_DEAD_LETTER:
		o->consume.dead_letter = v;
		break;
	case O_MAX_DELIVERIES:
		if (parse_long(v, 0, 1000000, &o->consume.max_deliveries))
			return fail(p,
				    "--max-deliveries takes a number from 0 "
				    "(never), not '%s'",
				    v);
		if (o->consume.max_deliveries == 0)
			o->consume.max_deliveries = -1;
		break;
	case O_CLAIM_IDLE:
		if (parse_duration(v, &o->consume.claim_idle) ||
		    o->consume.claim_idle < 0.05)
			return fail(p,
				    "--claim-idle takes 90, 90s, 15m or 2h "
				    "(at least 0.05 s), not '%s'",
				    v);
		break;
	case O_EXIT_WHEN_IDLE:
		if (parse_duration(v, &o->consume.exit_when_idle) ||
		    o->consume.exit_when_idle <= 0)
			return fail(p,
				    "--exit-when-idle takes 90, 90s, 15m or "
				    "2h, not '%s'",
				    v);
		break;
	case O_REDIS_PASSWORD_FILE:
		o->redis_password_file = v;
		break;
	case O_FIELD:
		if (!*v)
			return fail(p, "--field needs a field name");
		o->consume.field = o->enqueue.field = v;
		break;
	case O_MAX_PER_CONN:
		if (parse_long(v, 1, LONG_MAX, &r->max_per_connection))
			return fail(p,
				    "--max-per-connection takes a number "
				    "from 1, not '%s'",
				    v);
		break;
	case O_MAX_RUNTIME:
		if (parse_duration(v, &r->max_runtime) || r->max_runtime <= 0)
			return fail(p,
				    "--max-runtime takes 90, 90s, 15m or 2h, "
				    "not '%s'",
				    v);
		break;
	case O_CAMPAIGN:
		if (!*v || strlen(v) > 60)
			return fail(p, "--campaign takes a name of 1 to 60 "
				       "characters");
		r->campaign = v;
		break;
	case O_ENV:
		if (r->n_env == MAX_ENV_NAMES)
			return fail(p, "too many --env (at most %d)",
				    MAX_ENV_NAMES);
		o->env_names[r->n_env++] = v;
		break;
	case O_CACERT:
		r->cacert = v;
		break;
	case O_INSECURE:
		r->insecure = 1;
		break;
	case O_HTML:
		o->html_path = v;
		break;
	case O_SLOWEST:
		if (parse_long(v, 0, 1000, &o->slowest))
			return fail(p, "--slowest takes 0 to 1000, not '%s'",
				    v);
		if (o->slowest == 0)
			o->slowest = -1; /* none */
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
			return bad_choice(p, d, v);
		break;
	case O_CONFIG:
		o->config_path = v;
		break;
	case O_VERSION:
		o->version = 1;
		break;
	case O_HELP:
		o->help = 1;
		break;
	case O__COUNT:
		break;
	}
	return 0;
}

/* The gate every setting passes, from argv or the config file: where it
 * may come from, whether it applies, whether argv already decided. */
static int take(struct parser *p, const struct option_def *d, const char *v)
{
	int src = p->file != NULL;

	if (!src && (d->flags & F_FILE_ONLY))
		return fail(p,
			    "--%s is not taken on the command line (others "
			    "can read it there): put it in a --config file, "
			    "or use --smtp-password-file, "
			    "--smtp-password-command or env "
			    "HERALD_SMTP_PASSWORD",
			    d->name);
	if (!(d->commands & p->o->cmd)) {
		char to[64] = "";
		size_t n = 0, k = 0;
		if (src) /* one file serves every command */
			return 0;
		for (size_t i = 0; i < NCMD; i++)
			n += (d->commands & commands[i].cmd) != 0;
		for (size_t i = 0; i < NCMD; i++) {
			if (!(d->commands & commands[i].cmd))
				continue;
			k++;
			snprintf(to + strlen(to), sizeof(to) - strlen(to),
				 "%s%s",
				 k == 1	  ? ""
				 : k == n ? " and "
					  : ", ",
				 commands[i].name);
		}
		return fail(p, "--%s applies to %s, not %s", d->name, to,
			    p->cmd_name);
	}
	if (src) {
		if (p->on_argv[d->id] && !(d->flags & F_REPEAT))
			return 0;
		if (d->group && p->group_by[0][d->group])
			return 0;
	} else {
		p->on_argv[d->id] = 1;
	}
	if (d->group) {
		enum opt_id other = p->group_by[src][d->group];
		if (other && other != d->id) {
			const char *a = "", *b = d->name;
			for (size_t i = 0; i < NOPT; i++)
				if (table[i].id == other)
					a = table[i].name;
			return fail(p, "--%s and --%s exclude each other", a,
				    b);
		}
		p->group_by[src][d->group] = d->id;
	}
	return apply(p, d, v);
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

static int unknown_option(const struct parser *p, const char *typed, size_t n)
{
	char name[64];
	const char *near;

	snprintf(name, sizeof(name), "%.*s", (int)(n < 63 ? n : 63), typed);
	near = hd_nearest(name, NOPT, p->file ? option_name_any : option_name,
			  NULL);
	if (near)
		return fail(p, "unknown option '%s%s'; did you mean '%s%s'?",
			    p->file ? "" : "--", name, p->file ? "" : "--",
			    near);
	return fail(p, "unknown option '%s%s' (herald %s --help lists them)",
		    p->file ? "" : "--", name, p->cmd_name);
}

static enum command find_command(const char *name)
{
	for (size_t i = 0; i < NCMD; i++)
		if (!strcmp(name, commands[i].name))
			return commands[i].cmd;
	return CMD_NONE;
}

static int unknown_command(const struct parser *p, const char *name)
{
	const char *near = hd_nearest(name, NCMD, command_name, NULL);

	if (near)
		return fail(p, "unknown command '%s'; did you mean '%s'?", name,
			    near);
	return fail(p,
		    "unknown command '%s'; the commands are send, check, "
		    "render, consume, enqueue, report, help, version, "
		    "completion",
		    name);
}

/* A short-option cluster: -nq, -c4, -nqc 4 (POSIX getopt rules: flags
 * bundle, the first option taking an argument takes the rest of the
 * word or the next one). */
static int parse_short(struct parser *p, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	for (size_t k = 1; a[k]; k++) {
		const struct option_def *d = find_short(a[k]);
		const char *val = NULL;
		int rc;

		if (!d)
			return fail(p, "unknown option '-%c'%s", a[k],
				    k > 1 ? " (in a bundle of short options)"
					  : "");
		if (d->arg) {
			if (a[k + 1])
				val = a + k + 1;
			else if (*i + 1 < argc)
				val = argv[++*i];
			else
				return fail(p, "-%c (--%s) needs %s", a[k],
					    d->name, d->arg);
		}
		rc = take(p, d, val);
		if (rc || val)
			return rc;
	}
	return 0;
}

static int parse_argv(struct parser *p, int argc, char **argv, int first)
{
	struct options *o = p->o;
	/* the positional arguments a command takes, in order */
	const char **slots[2] = {NULL, NULL};
	size_t nslots = 1, used = 0;
	int rc;

	switch (o->cmd) {
	case CMD_REPORT:
		slots[0] = &o->report_input;
		break;
	case CMD_CONSUME:
		slots[0] = &o->consume.url;
		break;
	case CMD_ENQUEUE:
		slots[0] = &o->enqueue.url;
		slots[1] = &o->run.recipients_path;
		nslots = 2;
		break;
	default:
		slots[0] = &o->run.recipients_path;
		break;
	}
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct option_def *d;

		if (!strcmp(a, "--")) {
			while (i + 1 < argc && used < nslots)
				*slots[used++] = argv[++i];
			if (i + 1 < argc)
				return fail(p, "unexpected argument '%s'",
					    argv[i + 1]);
			break;
		}
		if (a[0] != '-' || !a[1]) {
			if (used == nslots && o->cmd == CMD_CONSUME)
				return fail(p,
					    "consume takes one stream URL; "
					    "unexpected '%s'",
					    a);
			if (used == nslots)
				return fail(p,
					    "one %s file only; unexpected "
					    "'%s'",
					    o->cmd == CMD_REPORT ? "report"
								 : "recipients",
					    a);
			*slots[used++] = a;
			continue;
		}
		if (a[1] != '-') {
			rc = parse_short(p, argc, argv, &i);
			if (rc)
				return rc;
			continue;
		}
		{
			const char *eq = strchr(a + 2, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			d = find_long(a + 2, n);
			if (!d)
				return unknown_option(p, a + 2, n);
			if (eq)
				val = eq + 1;
		}
		if (d->arg && !val) {
			if (i + 1 >= argc)
				return fail(p, "--%s needs %s", d->name,
					    d->arg);
			val = argv[++i];
		} else if (!d->arg && val) {
			return fail(p, "--%s takes no value", d->name);
		}
		rc = take(p, d, val);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the config file --------------------------------------------------- */

#define CONFIG_MAX (256 * 1024) /* bytes in a config file */
#define CONFIG_LINES 4096

struct entry {
	const struct option_def *d;
	const char *value; /* NULL for a flag */
	long line;
};

/* Unquotes "..." at s in place (\" \\ \n \t \r); *end gets what follows
 * the closing quote.  NULL with *why set on a bad string. */
static char *unquote(char *s, char **end, const char **why)
{
	char *w = s, *r = s + 1;

	for (; *r && *r != '"'; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		switch (*++r) {
		case '"':
		case '\\':
			*w++ = *r;
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'r':
			*w++ = '\r';
			break;
		default:
			*why = "unknown escape in a quoted value (\\\" \\\\ "
			       "\\n \\t \\r are known)";
			return NULL;
		}
	}
	if (*r != '"') {
		*why = "a quoted value is not closed on its line";
		return NULL;
	}
	*w = '\0';
	*end = r + 1;
	return s;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Yes or no for a flag written with a value ("insecure = yes"). */
static int flag_value(const char *v)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i]))
			return 1;
		if (!strcmp(v, no[i]))
			return 0;
	}
	return -1;
}

/* One line "name [=|:] value", "name" or a comment; fills *e (e->d NULL
 * for nothing to do). */
static int parse_line(struct parser *p, char *s, struct entry *e)
{
	char *name, *v, *end;
	const char *why = NULL;
	size_t n;

	e->d = NULL;
	e->value = NULL;
	e->line = p->line;
	while (is_blank(*s))
		s++;
	if (!*s || *s == '#')
		return 0;
	if (s[0] == '-' && s[1] == '-')
		s += 2; /* curl's -K takes "--name" too */
	name = s;
	n = strcspn(s, " \t\r=:");
	s += n;
	e->d = find_long(name, n);
	if (!e->d)
		return unknown_option(p, name, n);
	if (e->d->flags & F_NO_FILE)
		return fail(p, "%s cannot be set in a config file", e->d->name);
	while (is_blank(*s))
		s++;
	if (*s == '=' || *s == ':') {
		s++;
		while (is_blank(*s))
			s++;
	}
	if (*s == '"') {
		v = unquote(s, &end, &why);
		if (!v)
			return fail(p, "%s", why);
		while (is_blank(*end))
			end++;
		if (*end)
			return fail(p, "text after the quoted value of %s",
				    e->d->name);
	} else {
		v = s;
		end = s + strlen(s);
		while (end > v && is_blank(end[-1]))
			*--end = '\0';
	}
	if (!e->d->arg) {
		int yes = *v ? flag_value(v) : 1;
		if (yes < 0)
			return fail(p,
				    "%s is a flag: give it alone, or yes or "
				    "no, not '%s'",
				    e->d->name, v);
		if (!yes)
			e->d = NULL;
		return 0;
	}
	if (!*v && *s != '"')
		return fail(p, "%s needs %s", e->d->name, e->d->arg);
	e->value = v;
	return 0;
}

/* Reads path whole (bounded) into *text; checks who may read it. */
static int read_config(struct parser *p, const char *path, char **text,
		       int *readable, int *writable)
{
	FILE *fp = fopen(path, "r");
	struct stat st;
	size_t n;

	*text = NULL;
	if (!fp) {
		fprintf(stderr, "herald: %s: cannot open config file: %s\n",
			path, strerror(errno));
		return 66;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(fp);
		fprintf(stderr, "herald: %s: config file is not a file\n",
			path);
		return 66;
	}
	*readable = (st.st_mode & S_IROTH) != 0;
	*writable = (st.st_mode & S_IWOTH) != 0;
	*text = malloc(CONFIG_MAX + 1);
	if (!*text) {
		fclose(fp);
		return 70;
	}
	n = fread(*text, 1, CONFIG_MAX + 1, fp);
	fclose(fp);
	(*text)[n > CONFIG_MAX ? CONFIG_MAX : n] = '\0';
	if (n > CONFIG_MAX)
		return fail(p, "config file is larger than %d KiB",
			    CONFIG_MAX / 1024);
	if (strlen(*text) != n)
		return fail(p, "config file holds a NUL byte");
	return 0;
}

static int load_config(struct parser *p, const char *path)
{
	struct options *o = p->o;
	struct entry *entries = NULL;
	size_t count = 0;
	int readable = 0, writable = 0, rc;
	const char *secret = NULL;
	char *s;

	p->file = path;
	p->line = 0;
	rc = read_config(p, path, &o->config_text, &readable, &writable);
	if (rc)
		return rc;
	if (writable) {
		fprintf(stderr,
			"herald: %s: config file is writable by others; chmod "
			"o-w it first\n",
			path);
		return 78;
	}
	entries = calloc(CONFIG_LINES, sizeof(*entries));
	if (!entries)
		return 70;
	s = o->config_text;
	while (*s && rc == 0) {
		char *nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		p->line++;
		if (count == CONFIG_LINES) {
			rc = fail(p, "more than %d lines", CONFIG_LINES);
			break;
		}
		rc = parse_line(p, s, &entries[count]);
		if (rc == 0 && entries[count].d) {
			if ((entries[count].d->flags & F_SECRET) && !secret)
				secret = entries[count].d->name;
			count++;
		}
		s = nl ? nl + 1 : s + strlen(s);
	}
	if (rc == 0 && secret && readable) {
		fprintf(stderr,
			"herald: %s: holds %s but other users can read it; "
			"chmod o-r it first\n",
			path, secret);
		rc = 78;
	}
	for (size_t i = 0; rc == 0 && i < count; i++) {
		p->line = entries[i].line;
		rc = take(p, entries[i].d, entries[i].value);
	}
	free(entries);
	p->file = NULL;
	return rc;
}

/* ---- after parsing ------------------------------------------------------ */

static int get_password(struct options *o)
{
	const char *env = getenv("HERALD_SMTP_PASSWORD");

	if (o->password_command)
		return password_from_command(o->password_command, &o->password);
	if (o->password_file)
		return password_from_file(o->password_file, &o->password);
	if (o->config_password)
		o->password = strdup(o->config_password);
	else if (env)
		o->password = strdup(env);
	return 0;
}

/* Is the template an email (.eml, as the library decides it)? */
static int is_email_template(const hd_run_config *r)
{
	size_t n = r->template_path ? strlen(r->template_path) : 0;

	return n >= 4 && strcasecmp(r->template_path + n - 4, ".eml") == 0;
}

/* The Redis password: --redis-password-file, else HERALD_REDIS_PASSWORD,
 * else none. */
static int get_redis_password(struct options *o, const char **out)
{
	const char *env = getenv("HERALD_REDIS_PASSWORD");

	*out = NULL;
	if (o->redis_password_file) {
		int rc = password_from_file(o->redis_password_file,
					    &o->redis_password);
		if (rc)
			return rc;
	} else if (env && *env) {
		o->redis_password = strdup(env);
	}
	*out = o->redis_password;
	return 0;
}

/* consume and enqueue, once every source is read. */
static int finish_stream(struct parser *p)
{
	struct options *o = p->o;
	hd_run_config *r = &o->run;
	int rc;

	if (o->cmd == CMD_ENQUEUE) {
		if (!o->enqueue.url || !r->recipients_path)
			return fail(p, "enqueue needs a stream URL and a "
				       "RECIPIENTS file: herald enqueue "
				       "redis://HOST/STREAM FILE");
		if (!strcmp(r->recipients_path, "-") && !r->format)
			return fail(p, "reading standard input needs --format "
				       "csv|json|jsonl");
		rc = get_redis_password(o, &o->enqueue.password);
		o->enqueue.run = *r;
		return rc;
	}
	if (!o->consume.url)
		return fail(p, "consume needs a stream URL: herald consume "
			       "redis://HOST[:PORT][/DB]/STREAM --group G -t "
			       "TEMPLATE --journal-dir DIR");
	if (!r->template_path)
		return fail(p, "-t TEMPLATE is required");
	if (!o->consume.group)
		return fail(p, "--group GROUP is required");
	if (!o->consume.journal_dir)
		return fail(p, "--journal-dir DIR is required: an entry is "
			       "acknowledged only once its outcome is in the "
			       "journal");
	/* as for send: the environment's SMTP server is for .eml only */
	if (!r->smtp_url && !r->outbox_dir && is_email_template(r))
		r->smtp_url = getenv("HERALD_SMTP_URL");
	if (!r->smtp_user && is_email_template(r))
		r->smtp_user = getenv("HERALD_SMTP_USER");
	if (r->smtp_url) {
		rc = get_password(o);
		if (rc)
			return rc;
		r->smtp_password = o->password;
	}
	rc = get_redis_password(o, &o->consume.password);
	o->consume.run = *r;
	return rc;
}

/* What a command needs once every source is read. */
static int finish(struct parser *p)
{
	struct options *o = p->o;
	hd_run_config *r = &o->run;

	if (o->cmd == CMD_REPORT) {
		if (!o->report_input)
			return fail(p, "a REPORT file is required: herald "
				       "report [--html OUT] REPORT");
		return 0;
	}
	if (o->cmd == CMD_UNSUBSCRIBE) {
		if (r->recipients_path)
			return fail(p,
				    "unsubscribe-server takes no file; "
				    "unexpected '%s'",
				    r->recipients_path);
		if (!o->unsub.listen || !o->unsub.secret_file ||
		    !o->unsub.suppress_path)
			return fail(p, "unsubscribe-server needs --listen, "
				       "--secret-file and --suppress");
		return 0;
	}
	if (o->cmd & (CMD_CONSUME | CMD_ENQUEUE))
		return finish_stream(p);
	r->check_only = o->cmd == CMD_CHECK;
	if (!r->template_path)
		return fail(p, "-t TEMPLATE is required");
	if (!r->recipients_path)
		return fail(p, "a RECIPIENTS file (or -) is required");
	if (!strcmp(r->recipients_path, "-") && !r->format)
		return fail(p, "reading standard input needs --format "
			       "csv|json|jsonl");
	if (o->cmd == CMD_RENDER && !o->render_row == !o->render_key)
		return fail(p, "render needs --row N or --key K");
	if (o->cmd & (CMD_SEND | CMD_CHECK)) {
		hd_shard sh;
		hd_error e;
		if (hd_shard_choose(o->shard_spec, o->shard_count, getenv, &sh,
				    &e) != HD_OK)
			return fail(p, "%s", e.msg);
		r->shard_index = sh.index;
		r->shard_count = sh.count;
	}
	/* the environment comes last: only when nothing chose where
	 * messages go, and only for email (a .http template names its own
	 * URLs: an SMTP server in the environment is not for it) */
	if (!r->smtp_url && !r->outbox_dir && is_email_template(r))
		r->smtp_url = getenv("HERALD_SMTP_URL");
	if (!r->smtp_user && is_email_template(r))
		r->smtp_user = getenv("HERALD_SMTP_USER");
	/* check refuses what send would: an unreadable password too */
	if ((o->cmd == CMD_SEND || o->cmd == CMD_CHECK) && r->smtp_url) {
		int rc = get_password(o);
		if (rc)
			return rc;
		r->smtp_password = o->password;
	}
	/* a send always leaves a record of every row */
	if (o->cmd == CMD_SEND && !r->dry_run && !r->report_path)
		r->report_path = DEFAULT_REPORT;
	return 0;
}

int options_parse(int argc, char **argv, struct options *o)
{
	struct parser p;
	const char *config;
	int rc;

	memset(o, 0, sizeof(*o));
	memset(&p, 0, sizeof(p));
	p.o = o;
	o->run.retries = -1;
	o->run.env_names = o->env_names;
	o->run.mail.dkim = o->dkim;
	o->run.mail.dkim_omit = o->dkim_omit;
	if (argc < 2)
		return fail(&p, "a command is needed: send, check, render, "
				"consume, enqueue, report or "
				"unsubscribe-server ('herald help' lists "
				"them)");
	p.cmd_name = argv[1];
	/* before the command: only help and version */
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		o->cmd = CMD_HELP;
		if (argc > 3)
			return fail(&p, "help takes one command name");
		if (argc == 3) {
			o->help_topic = find_command(argv[2]);
			if (o->help_topic == CMD_NONE)
				return unknown_command(&p, argv[2]);
		}
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version") ||
	    !strcmp(argv[1], "version")) {
		o->cmd = CMD_VERSION;
		if (argc > 2)
			return fail(&p, "version takes no arguments");
		return 0;
	}
	if (argv[1][0] == '-') {
		if (find_long(argv[1] + 2, strlen(argv[1] + 2)) ||
		    (argv[1][1] && argv[1][1] != '-' && find_short(argv[1][1])))
			return fail(&p,
				    "the command comes first: herald COMMAND "
				    "%s ... ('herald help' lists commands)",
				    argv[1]);
		return fail(&p, "unknown option '%s' ('herald help')", argv[1]);
	}
	o->cmd = find_command(argv[1]);
	if (o->cmd == CMD_NONE)
		return unknown_command(&p, argv[1]);
	if (o->cmd == CMD_COMPLETION) {
		if (argc > 3)
			return fail(&p, "completion takes one shell name");
		o->completion = argc == 3 ? argv[2] : "bash";
		return 0;
	}
	rc = parse_argv(&p, argc, argv, 2);
	if (rc || o->help || o->version)
		return rc;
	config = o->config_path;
	if (!config) {
		config = getenv("HERALD_CONFIG");
		if (config && !*config)
			config = NULL;
	}
	if (config) {
		rc = load_config(&p, config);
		if (rc)
			return rc;
	}
	return finish(&p);
}

void options_free(struct options *o)
{
	password_wipe(o->password);
	o->password = NULL;
	password_wipe(o->redis_password);
	o->redis_password = NULL;
	if (o->config_text) {
		/* it may hold smtp-password */
		memset(o->config_text, 0, CONFIG_MAX + 1);
		free(o->config_text);
		o->config_text = NULL;
	}
}

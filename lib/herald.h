/*
 * herald.h — the public interface of libherald.
 *
 * libherald reads a recipients file, renders one message per recipient from
 * a template and sends each through a fixed pool of worker threads.  This
 * header is the only one the `herald` program (cli/) includes.
 *
 * Conventions
 *   - Every public name starts with hd_ (functions, types) or HD_ (macros,
 *     enum values).  Internal cross-file names start with hd__ ; names local
 *     to one file are static and short.
 *   - Functions that can fail return an hd_status (HD_OK = 0) and fill an
 *     hd_error when the caller passes one (NULL is allowed everywhere).
 *   - The library never prints and never exits.  Where input is at fault the
 *     error names the file, line, column and field.
 *   - _new/_free pairs own; _free accepts NULL.  A function that takes
 *     ownership takes it on failure too.
 */
#ifndef HERALD_H
#define HERALD_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HD_VERSION "0.1.0"

/* Failures in a row after which a run stops, unless told otherwise. */
#define HD_DEFAULT_MAX_FAILURES 20

#if defined(__GNUC__)
#define HD_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define HD_PRINTF(fmt, args)
#endif

/*
 * The error list.  Append only: values are never renumbered.
 * X(NAME, message)
 */
#define HD_ERRNO_MAP(X)                                                        \
	X(OK, "success")                                                       \
	X(ENOMEM, "out of memory")                                             \
	X(EIO, "input/output error")                                           \
	X(ENOENT, "file is missing or unreadable")                             \
	X(EPARSE, "malformed input")                                           \
	X(EINVAL, "invalid argument")                                          \
	X(ESTOPPED, "pool is stopped")                                         \
	X(ECANCELED, "cancelled before it started")                            \
	X(ETEMPLATE, "bad template")                                           \
	X(EMISSING, "missing field")                                           \
	X(EADDRESS, "invalid address")                                         \
	X(EUTF8, "invalid UTF-8")                                              \
	X(EHEADER, "value not allowed in a header")                            \
	X(ELIMIT, "size limit exceeded")                                       \
	X(EUSAGE, "usage error")                                               \
	X(ECONFIG, "configuration error")                                      \
	X(ECREATE, "cannot create output file")                                \
	X(ETRANSIENT, "transient failure")                                     \
	X(EPERMANENT, "permanent failure")                                     \
	X(EDUPLICATE, "duplicate key")                                         \
	X(EINTERRUPTED, "interrupted")                                         \
	X(EINVALIDROWS, "invalid rows")                                        \
	X(ELOCKED, "locked by another run")                                    \
	X(EAGAIN, "try again")                                                 \
	X(ETIMEDOUT, "timed out")

/* clang-format off */
typedef enum hd_status {
#define HD__ENUM(name, msg) HD_##name,
	HD_ERRNO_MAP(HD__ENUM)
#undef HD__ENUM
	HD__STATUS_COUNT
} hd_status;
/* clang-format on */

/* What went wrong and where.  Filled by readers, the template compiler,
 * renderers and transports.  Fields that do not apply are 0 or "". */
typedef struct hd_error {
	hd_status code;
	char file[256];	 /* input file or template path */
	long line;	 /* 1-based line in file; 0 when not known */
	long column;	 /* 1-based column (bytes); 0 when not known */
	long row;	 /* 1-based record number; 0 when not a record */
	char field[128]; /* field, header or tag name */
	char msg[512];	 /* human text, without the place */
} hd_error;

/* Static text for a status code; never NULL. */
const char *hd_strerror(hd_status code);

/* Stable lower-case name of a status code ("enomem"); never NULL. */
const char *hd_status_name(hd_status code);

/* Resets *err to "no error".  NULL is allowed. */
void hd_error_clear(hd_error *err);

/* Fills err (if not NULL) and returns code.  file may be NULL.  The
 * message is formatted with fmt; NULL fmt uses hd_strerror(code).  Every
 * field is set: row and field are cleared (set them after this call). */
hd_status hd_error_set(hd_error *err, hd_status code, const char *file,
		       long line, long column, const char *fmt, ...)
    HD_PRINTF(6, 7);

/* Same as hd_error_set with a va_list. */
hd_status hd_error_vset(hd_error *err, hd_status code, const char *file,
			long line, long column, const char *fmt, va_list ap)
    HD_PRINTF(6, 0);

/* Sets err->field (truncated to fit).  NULL err or field is a no-op. */
void hd_error_set_field(hd_error *err, const char *field);

/* Writes "file:line:col: row R: field 'F': message" (parts that are not
 * known are left out) into out, always NUL-terminated, as one printable
 * line (see hd_printable: recipient data in a message can never end the
 * line or drive a terminal).  Returns the length the full text would have
 * (like snprintf). */
size_t hd_error_format(const hd_error *err, char *out, size_t size);

/* Copies s into out (size bytes, always NUL-terminated when size > 0) as
 * one line of printable UTF-8: C0 controls and DEL become \n, \r, \t or
 * \xHH, and so do C1 controls (U+0080..U+009F, which some terminals
 * obey) and bytes that are not UTF-8.  Returns the length the whole
 * escaped text would have (like snprintf). */
size_t hd_printable(char *out, size_t size, const char *s);

/* "Did you mean": of the count candidates get(ctx, i) gives (NULL ones
 * are passed over), the one nearest to typed: the same name in another
 * case, else one within a third of typed's length in edits (at least 1,
 * at most 3; a swap of two neighbours is one edit), else the only one
 * typed is a prefix of.  NULL when none is near.  The result is one of
 * the candidates. */
const char *hd_nearest(const char *typed, size_t count,
		       const char *(*get)(void *ctx, size_t i), void *ctx);

/* ------------------------------------------------------------------ */
/* Runs: herald send / check / render                                   */
/* ------------------------------------------------------------------ */

/* What a run tells its caller while it goes (on the calling thread). */
typedef enum hd_event_kind {
	HD_EVENT_INVALID_ROW = 1, /* a row failed validation: error */
	HD_EVENT_PROGRESS,   /* stats changed (at most ~5 times a second) */
	HD_EVENT_FAILED_ROW, /* a row failed to send: error, text */
	HD_EVENT_NOTE,	     /* something worth a log line: text */
	HD_EVENT_CHECKED,    /* every row was read and checked, before
				anything is sent: the INVALID_ROW events
				are all in */
	HD_EVENT_ROW,	     /* a row's outcome went to the report: row */
	HD_EVENT_RETRY,	     /* an attempt failed and the row goes again
				later: attempt */
	HD_EVENT_SLOW_DOWN,  /* a server asked to slow down and the sends
				of the whole run, or of one destination,
				now start more slowly: attempt */
	HD_EVENT_STEP,	     /* hd_connect_check: a step, text; error set
				when it failed */
} hd_event_kind;

typedef struct hd_run_stats {
	long rows;  /* rows read from the recipients file */
	long total; /* rows taken: not left out by --skip/--limit, the
		       journal, --only-failed, due times or dedupe */
	long done;  /* taken rows with an outcome in the report */
	long sent, failed, invalid, skipped, dry_run, not_attempted, uncertain;
	long attempts;	       /* send attempts, retries included */
	long resent;	       /* taken again although an earlier run left them
				  uncertain (--on-uncertain resend) */
	long suppressed_added; /* recipients --suppress-add put on its list */
	long held;	       /* left uncertain by an earlier run and held back
				  (--on-uncertain skip); counted in uncertain */
	double elapsed;	       /* seconds since the sending pass started */
} hd_run_stats;

/* A retry or a slow-down, as the worker that met it saw it. */
typedef struct hd_attempt_info {
	long row;	    /* the row whose attempt it was */
	int attempt;	    /* that attempt, from 1 */
	const char *reason; /* what the server or the connection said */
	double wait;	    /* RETRY: seconds until the next attempt */
	const char *dest;   /* SLOW_DOWN: "host:port", or "" for the run */
	double rate;	    /* SLOW_DOWN: starts per second now; 0: not
			       limited by a rate (a pause only) */
	double pause;	    /* SLOW_DOWN: seconds every send there waits
			       first (Retry-After); 0: none */
} hd_attempt_info;

struct hd_report_row;

typedef struct hd_event {
	hd_event_kind kind;
	const hd_error *error;		 /* INVALID_ROW, FAILED_ROW */
	const char *text;		 /* FAILED_ROW, NOTE */
	const hd_run_stats *stats;	 /* always */
	const struct hd_report_row *row; /* ROW (report.h) */
	const hd_attempt_info *attempt;	 /* RETRY, SLOW_DOWN */
} hd_event;

typedef void (*hd_event_fn)(void *ctx, const hd_event *ev);

/* What makes mail arrive (README, Deliverability): the message builder
 * reads these once, when the template is loaded. */
typedef struct hd_mail_config {
	/* DKIM signatures, each "ALG:SELECTOR:DOMAIN:KEYFILE" with ALG rsa
	 * or ed25519; every email is signed with each, in this order */
	const char *const *dkim;
	size_t n_dkim;
	/* header names left out of the signatures (relays that rewrite
	 * them); never From */
	const char *const *dkim_omit;
	size_t n_dkim_omit;
	/* file holding the secret that makes {{unsubscribe.token}}; NULL:
	 * templates cannot use it */
	const char *unsubscribe_secret_file;
	/* MAIL FROM (the bounce address) as a template that may use {{key}}
	 * and {{id}}; NULL: the From address */
	const char *envelope_from;
} hd_mail_config;

typedef struct hd_run_config {
	const char *template_path;   /* .eml or .http */
	const char *recipients_path; /* .csv, .json, .jsonl/.ndjson or "-" */
	const char *format;	     /* NULL (by extension), "csv", "json",
					"jsonl" */
	char delimiter;		     /* CSV; 0: ',' */
	const char *encoding;	     /* the recipients file's encoding, an
					iconv(3) name; NULL: UTF-8 */
	const char *report_path;     /* NULL: no report; "-": stdout */
	const char *journal_path;    /* NULL: no journal */
	int on_uncertain_skip;	     /* rows a journal or report shows as
					uncertain are held back, not sent */
	const char *only_failed;     /* an earlier report: take only the rows
					it lists as failed or not-attempted
					(and uncertain, unless
					on_uncertain_skip) */
	int check_only;		     /* herald check: validate, send nothing */
	int dry_run;		     /* render, validate, report dry-run */
	const char *outbox_dir;	     /* write messages here instead */
	int outbox_clean;	     /* remove an earlier run's messages from
					the outbox first (else a folder that
					holds them is refused) */
	const char *smtp_url;	     /* smtp:// or smtps:// */
	const char *smtp_user;
	const char *smtp_password; /* never logged */
	const char *cacert;
	int insecure;
	int allow_plaintext_auth;
	unsigned concurrency;  /* connections at most; 0: 4 */
	long streams;	       /* HTTP/2: requests sharing one connection;
				  0, 1: one at a time */
	long per_host;	       /* .http: requests in flight per host and
				  port; 0: no fixed limit */
	long per_domain;       /* .eml: messages in flight per recipient
				  domain; 0: no fixed limit (and the SMTP
				  server is the one destination) */
	double rate;	       /* starts per second; 0: no limit */
	int retries;	       /* extra attempts after transient
				  failures; < 0: 3 */
	long timeout_ms;       /* per attempt; 0: 30 s */
	long backoff_ms;       /* first retry's backoff ceiling;
				  0: 1000 */
	const char *key_field; /* NULL: the envelope recipients (.eml),
				  an email or id field, else the whole
				  record (.http) */
	int skip_invalid;
	long skip, limit;	      /* limit 0: all */
	const char *campaign;	      /* NULL: one per run */
	const char *const *env_names; /* {{env.NAME}} may read these */
	size_t n_env;
	const char *redirect;	 /* send everything here instead */
	long max_failures;	 /* failures in a row that stop the run;
				    0: HD_DEFAULT_MAX_FAILURES; < 0: never */
	long max_per_connection; /* 0: no cap */
	double max_runtime;	 /* seconds; 0: none */
	int verbose;
	/* --trace: every attempt's SMTP or HTTP conversation is written
	 * here, secrets masked; NULL: none */
	const char *trace_path;
	/* Set by the caller's signal handler: 1 stop taking rows, 2 abort
	 * in-flight attempts too. */
	volatile sig_atomic_t *interrupt;
	hd_event_fn on_event;
	void *event_ctx;
	hd_mail_config mail; /* DKIM, unsubscribe tokens, envelope sender */
	/* suppression list (lib/suppress.h): rows whose key or address it
	 * holds are skipped "suppressed"; NULL: none */
	const char *suppress_path;
	/* where recipients refused as nonexistent (SMTP 5.1.1 ...) are
	 * appended; NULL: nowhere */
	const char *suppress_add_path;
	/* --shard K/N (hd_shard_choose): only the rows of shard
	 * shard_index (from 0) of shard_count are taken, the others are
	 * skipped "shard K/N"; shard_count 0: every row */
	long shard_index, shard_count;
	/* --one-pass: the list is read once, as it comes (standard input
	 * is not copied): each row is validated on the workers and sent or
	 * reported invalid by itself (as with skip_invalid), duplicates are
	 * found among the recent keys and by the journal */
	int one_pass;
} hd_run_config;

/*
 * Runs herald send (or check).  Returns
 *   HD_OK            the run finished; stats say how each row ended
 *   HD_EINVALIDROWS  rows were invalid and skip_invalid was not set:
 *                    nothing was sent, every problem was reported
 *   HD_EPARSE, HD_EUTF8, HD_ELIMIT, HD_ETEMPLATE
 *                    the recipients or template are broken: nothing sent
 *   HD_ENOENT        an input file is missing or unreadable
 *   HD_ECREATE       the report or outbox cannot be created
 *   HD_EINTERRUPTED  stopped early (signal, max_failures, max_runtime, a
 *                    destination that cannot be reached); every row is
 *                    still in the report
 *   HD_ECONFIG       bad URL, credentials refused, TLS not trusted, a
 *                    host that does not resolve, no TLS where asked for
 *   HD_EUSAGE        contradicting or missing settings; an output
 *                    (report, journal, outbox) that is one of the inputs
 *   HD_ELOCKED       another run holds the journal: nothing was done
 *   HD_EIO           the report or journal could not be written
 * A report (report_path) is written to a temporary file and renamed into
 * place at the end; when the run cannot start (HD_EPARSE, HD_ENOENT,
 * HD_ETEMPLATE, HD_ECONFIG before sending...) it is replaced by the
 * report of that failed start: every row not-attempted with the error,
 * or one line (row null) with the error when the rows cannot be read.
 * After HD_EUSAGE and HD_ELOCKED it is left untouched.
 * err says what and where.  stats may be NULL.
 */
hd_status hd_run(const hd_run_config *cfg, hd_run_stats *stats, hd_error *err);

/*
 * herald check --connect: opens the connection a send of cfg would open
 * and stops short of sending.  SMTP: the name (DNS), TCP, the greeting,
 * EHLO, TLS (smtps:// or STARTTLS, the certificate verified unless
 * insecure), AUTH, then MAIL FROM and RCPT TO of the first three rows'
 * envelopes (after --redirect), each followed by RSET; never DATA.
 * HTTP: DNS, TCP and TLS of each host the first three rows' requests go
 * to; no request.  Each step is an HD_EVENT_STEP (its error set when it
 * failed); the first connection step that fails ends it.  Returns
 *   HD_OK            every step passed
 *   HD_ECONFIG       a name that does not resolve, TLS not trusted or
 *                    not offered where AUTH needs it, credentials refused
 *   HD_EINTERRUPTED  nothing accepts the connection or greets: try later
 *   HD_EPERMANENT    the server refused a row's sender or recipient
 *   HD_ETRANSIENT    ... for now (4xx)
 *   and the errors of hd_run for inputs that cannot be read.
 * With cfg->trace_path the conversation goes there too.
 */
hd_status hd_connect_check(const hd_run_config *cfg, hd_error *err);

/*
 * Renders the message one recipient would get: row (1-based) or, when
 * key is not NULL, the first row whose key equals it.  *data gets the
 * message bytes (email) or the request in .http form; *envelope the SMTP
 * envelope ("MAIL FROM:<a>\nRCPT TO:<b>\n") or "" for HTTP.  Both are
 * malloc'd, the caller frees them.  Errors as hd_run, plus HD_EINVAL when
 * there is no such row.
 */
hd_status hd_render(const hd_run_config *cfg, long row, const char *key,
		    char **data, size_t *len, char **envelope, hd_error *err);

/* ------------------------------------------------------------------ */
/* herald consume / enqueue: send tasks from a Redis stream             */
/* ------------------------------------------------------------------ */

typedef struct hd_consume_config {
	/* the template, where messages go, rates, retries, timeouts, the
	 * report (-o, optional), the key, the campaign, --on-uncertain,
	 * --suppress; not: the recipients file, the journal path (see
	 * journal_dir), skip, limit, shard, only_failed, one_pass */
	hd_run_config run;
	const char *url;	 /* redis://[USER@]HOST[:PORT][/DB]/STREAM */
	const char *password;	 /* the Redis password, or NULL; never logged */
	const char *group;	 /* the consumer group (created if missing) */
	const char *consumer;	 /* this consumer's name; NULL: the host's */
	const char *journal_dir; /* required: DIR/CONSUMER.journal is this
				    consumer's; the others' are read when
				    their entries are taken over */
	const char *results;	 /* stream for outcomes; NULL: none */
	const char *dead_letter; /* NULL: STREAM:dead */
	const char *field;	 /* the entries' record field; NULL:
				    "record" */
	long max_deliveries;	 /* 0: 5; < 0: no limit */
	double claim_idle;	 /* seconds; 0: 60 */
	double exit_when_idle;	 /* seconds with nothing to do that end
				    the run; 0: never */
} hd_consume_config;

/*
 * herald consume: takes entries from a Redis stream through a consumer
 * group and sends one message per entry, as herald send does per row, until
 * a signal, run.max_runtime or exit_when_idle says to stop; then it lets the
 * sends in flight end and records them.  Every outcome is in the journal
 * before the entry is acknowledged (XACK, with the outcome added to the
 * results stream in the same MULTI/EXEC); a transient failure is left
 * pending so that it comes back; after max_deliveries an entry goes to the
 * dead-letter stream.  Returns as hd_run, plus:
 *   HD_EUSAGE        no group or journal_dir, a bad consumer name
 *   HD_ECONFIG       a bad URL, the password refused
 *   HD_ELOCKED       another process is this consumer (its journal)
 *   HD_EINTERRUPTED  stopped by a signal with entries left for later, or
 *                    the server went away: the entries held stay pending
 */
hd_status hd_consume(const hd_consume_config *cfg, hd_run_stats *stats,
		     hd_error *err);

typedef struct hd_enqueue_config {
	/* recipients_path, format, delimiter; with template_path, every row
	 * is validated as herald check does first (key_field, env_names,
	 * skip_invalid, redirect, mail apply) */
	hd_run_config run;
	const char *url;      /* redis://[USER@]HOST[:PORT][/DB]/STREAM */
	const char *password; /* or NULL */
	const char *field;    /* NULL: "record" */
} hd_enqueue_config;

/*
 * herald enqueue: adds one stream entry per row of the recipients file,
 * the row as a JSON object in the field.  With a template, nothing is
 * added when a row is invalid (HD_EINVALIDROWS, every problem reported
 * through run.on_event) unless skip_invalid, which leaves the invalid
 * rows out.  *added counts the entries added.  Errors as hd_run and
 * hd_consume's connection errors.
 */
hd_status hd_enqueue(const hd_enqueue_config *cfg, long *added, hd_error *err);

/* ------------------------------------------------------------------ */
/* Shards: one list split over machines with no coordination            */
/* ------------------------------------------------------------------ */

/* Which shard a process takes. */
typedef struct hd_shard {
	long index;	/* K, counted from 0 */
	long count;	/* N; 0: no sharding, every row */
	char from[200]; /* where K/N came from, for a note */
} hd_shard;

/*
 * Finds the process's shard, first found wins:
 *   1. spec, from --shard: "K/N", K counted from 0 (0 <= K < N);
 *   2. JOB_COMPLETION_INDEX (a Kubernetes indexed Job, counted from 0)
 *      is K; N is count (--shard-count), else HERALD_SHARD_COUNT (the
 *      Job's completions: Kubernetes does not put it in the environment);
 *   3. SLURM_ARRAY_TASK_ID (a Slurm job array): K is (ID - MIN) / STEP
 *      with SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_STEP (1 when not
 *      set), N is SLURM_ARRAY_TASK_COUNT, so --array=1-8 and --array=0-7
 *      both give shards 0..7 of 8; an array with gaps (--array=1,3,7)
 *      cannot be mapped and is refused;
 *   4. none: out->count 0, every row.
 * count (--shard-count, 0 when not given) must agree with whatever gives
 * N.  env reads a variable (getenv; tests pass their own).  HD_OK, or
 * HD_EUSAGE with err saying what is wrong and how to say it right.
 */
hd_status hd_shard_choose(const char *spec, long count,
			  char *(*env)(const char *name), hd_shard *out,
			  hd_error *err);

/* ------------------------------------------------------------------ */
/* herald unsubscribe-server                                            */
/* ------------------------------------------------------------------ */

/* One line for the log (no line end), from any of the server's threads;
 * is_error: something failed (else a note). */
typedef void (*hd_log_fn)(void *ctx, int is_error, const char *line);

typedef struct hd_unsubscribe_config {
	const char *listen;	   /* "127.0.0.1:8025", "[::1]:8025"; port
				      0 takes a free one (the log says it) */
	const char *secret_file;   /* what --unsubscribe-secret-file gave
				      the run that made the links */
	const char *suppress_path; /* suppression list to append to */
	/* Set by the caller's signal handler: the server stops. */
	volatile sig_atomic_t *interrupt;
	hd_log_fn on_log; /* "listening on ...", "unsubscribed KEY ...",
			     failures to record; may be NULL */
	void *log_ctx;
} hd_unsubscribe_config;

/*
 * Serves one-click unsubscribe links (RFC 8058) made from
 * {{unsubscribe.token}} until *interrupt is set: GET shows a page with a
 * confirm button and changes nothing; a POST of List-Unsubscribe=One-Click
 * with a valid token appends the recipient's key to the suppression list
 * (flock'd, fdatasync'd) and answers 200; an invalid or forged token gets
 * 400 and changes nothing.  Plain HTTP: meant to sit behind a TLS reverse
 * proxy.  Returns HD_OK once stopped, or before serving
 *   HD_EUSAGE   a malformed --listen
 *   HD_ENOENT   the secret file is missing or unreadable
 *   HD_ECONFIG  the secret is readable by others or too short; the
 *               address cannot be listened on
 *   HD_ECREATE  the suppression list cannot be opened for appending
 */
hd_status hd_unsubscribe_serve(const hd_unsubscribe_config *cfg, hd_error *err);

#ifdef __cplusplus
}
#endif
#endif

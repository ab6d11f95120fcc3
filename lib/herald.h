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

/* ------------------------------------------------------------------ */
/* Runs: herald send / check / render                                   */
/* ------------------------------------------------------------------ */

/* What a run tells its caller while it goes (on the calling thread). */
typedef enum hd_event_kind {
	HD_EVENT_INVALID_ROW = 1, /* a row failed validation: error */
	HD_EVENT_PROGRESS,   /* stats changed (at most ~5 times a second) */
	HD_EVENT_FAILED_ROW, /* a row failed to send: error, text */
	HD_EVENT_NOTE,	     /* something worth a log line: text */
} hd_event_kind;

typedef struct hd_run_stats {
	long rows;  /* rows read from the recipients file */
	long total; /* rows to send (after --skip/--limit) */
	long done;  /* rows with an outcome in the report */
	long sent, failed, invalid, skipped, dry_run, not_attempted, uncertain;
	long attempts;	/* send attempts, retries included */
	double elapsed; /* seconds since the sending pass started */
} hd_run_stats;

typedef struct hd_event {
	hd_event_kind kind;
	const hd_error *error;	   /* INVALID_ROW, FAILED_ROW */
	const char *text;	   /* FAILED_ROW, NOTE */
	const hd_run_stats *stats; /* always */
} hd_event;

typedef void (*hd_event_fn)(void *ctx, const hd_event *ev);

typedef struct hd_run_config {
	const char *template_path;   /* .eml or .http */
	const char *recipients_path; /* .csv, .json, .jsonl/.ndjson or "-" */
	const char *format;	     /* NULL (by extension), "csv", "json",
					"jsonl" */
	char delimiter;		     /* CSV; 0: ',' */
	const char *report_path;     /* NULL: no report; "-": stdout */
	int check_only;		     /* herald check: validate, send nothing */
	int dry_run;		     /* render, validate, report dry-run */
	const char *outbox_dir;	     /* write messages here instead */
	const char *smtp_url;	     /* smtp:// or smtps:// */
	const char *smtp_user;
	const char *smtp_password; /* never logged */
	const char *cacert;
	int insecure;
	int allow_plaintext_auth;
	unsigned concurrency;  /* workers; 0: 4 */
	double rate;	       /* starts per second; 0: no limit */
	int retries;	       /* extra attempts after transient
				  failures; < 0: 3 */
	long timeout_ms;       /* per attempt; 0: 30 s */
	long backoff_ms;       /* first retry's backoff ceiling;
				  0: 1000 */
	const char *key_field; /* NULL: "email" if present, else the
				  first field */
	int skip_invalid;
	long skip, limit;	      /* limit 0: all */
	const char *campaign;	      /* NULL: one per run */
	const char *const *env_names; /* {{env.NAME}} may read these */
	size_t n_env;
	const char *redirect;	 /* send everything here instead */
	long max_failures;	 /* 0: never abort */
	long max_per_connection; /* 0: no cap */
	double max_runtime;	 /* seconds; 0: none */
	int verbose;
	/* Set by the caller's signal handler: 1 stop taking rows, 2 abort
	 * in-flight attempts too. */
	volatile sig_atomic_t *interrupt;
	hd_event_fn on_event;
	void *event_ctx;
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
 *   HD_EINTERRUPTED  stopped early (signal, max_failures, max_runtime);
 *                    every row is still in the report
 *   HD_ECONFIG       bad URL, credentials refused, TLS not trusted
 *   HD_EUSAGE        contradicting or missing settings
 * err says what and where.  stats may be NULL.
 */
hd_status hd_run(const hd_run_config *cfg, hd_run_stats *stats, hd_error *err);

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

#ifdef __cplusplus
}
#endif
#endif

/*
 * message_int.h — what message.c shares with message_eml.c and
 * message_http.c.  Not for other modules.
 */
#ifndef HD_MESSAGE_INT_H
#define HD_MESSAGE_INT_H

#include "dkim.h"
#include "message.h"
#include "outputs.h"
#include "template.h"
#include "unsub.h"

/* Largest template file we accept. */
#define HD_TEMPLATE_MAX (1L << 20)

struct hd_msgtmpl {
	hd_message_kind kind;
	char *path;  /* as given, for errors */
	char *dir;   /* real path of the template's folder */
	json_t *env; /* {"NAME": "value"} of the allowed variables, or NULL */
	char *redirect;			   /* or NULL */
	const struct hd__outputs *outputs; /* or NULL; borrowed */
	void *impl;			   /* struct eml or struct http_tmpl */
	hd_dkim *dkim;			   /* signers, or NULL */
	hd_unsub_secret *unsub;		   /* {{unsubscribe.token}}, or NULL */
	hd_tmpl *envelope_from;		   /* MAIL FROM template, or NULL */
	json_t *aliases; /* {alias: field} a record's values are also read
			    by (CSV header names no tag can name), or NULL */
};

/* Compiles text[0..len) (which starts at line first_line, column
 * first_column of the template file; 0 means 1) as a strict Mustache
 * template whose partials are files beside the template. */
hd_status hd__part_compile(const hd_msgtmpl *t, const char *text, size_t len,
			   long first_line, long first_column, hd_tmpl **out,
			   hd_error *err);

/* Renders part for ctx into out (appending) with the given escapers. */
hd_status hd__part_render(const hd_tmpl *part, json_t *ctx, hd_escape_fn esc,
			  hd_escape_fn raw, long row, hd_buf *out,
			  hd_error *err);

/* The context a record renders in: the record itself, or a shallow copy
 * with "env" added when variables were allowed and "unsubscribe" (the
 * token for campaign and key) when a secret was given.  Release with
 * hd__context_release(t, record, ctx). */
json_t *hd__context_new(const hd_msgtmpl *t, json_t *record,
			const char *campaign, const char *key);
void hd__context_release(const hd_msgtmpl *t, json_t *record, json_t *ctx);

/* Splits the template into lines; returns the end of the line starting at
 * p (the position of '\n' or end) and sets *next to the start of the next
 * line. */
const char *hd__line_end(const char *p, const char *end, const char **next);

/* The time a message is made: now, or SOURCE_DATE_EPOCH when that is set
 * (the reproducible-builds convention), so that tests can compare
 * messages byte for byte. */
long long hd__message_time(void);

/* Case-insensitive equality of a header name. */
int hd__name_is(const char *name, size_t n, const char *want);
/* Exact equality of name[0..n) and want. */
int hd__name_exact(const char *name, size_t n, const char *want);

hd_status hd__eml_compile(hd_msgtmpl *t, const char *text, size_t len,
			  hd_error *err);
/* checking: for hd_msgtmpl_check, which keeps no message: what cannot
 * fail is skipped (the text parts' encoding), so the message is not
 * whole, but every error a full build meets is met.  recipients, when
 * not NULL: what hd__eml_recipients would append, appended. */
hd_status hd__eml_build(const hd_msgtmpl *t, json_t *ctx, const char *id_hash,
			long row, int checking, hd_buf *recipients,
			hd_message *out, hd_error *err);
void hd__eml_free(void *impl);
void hd__eml_walk(const hd_msgtmpl *t, hd_tmpl_walk_fn fn, void *ctx);
/* The envelope recipients (To, Cc, Bcc) of ctx, as "a@b.example, c@d":
 * addresses in template order, domains lower-cased. */
hd_status hd__eml_recipients(const hd_msgtmpl *t, json_t *ctx, long row,
			     hd_buf *out, hd_error *err);

hd_status hd__http_compile(hd_msgtmpl *t, const char *text, size_t len,
			   hd_error *err);
hd_status hd__http_build(const hd_msgtmpl *t, json_t *ctx, const char *id_hash,
			 long row, hd_message *out, hd_error *err);
void hd__http_free(void *impl);
void hd__http_walk(const hd_msgtmpl *t, hd_tmpl_walk_fn fn, void *ctx);

#endif

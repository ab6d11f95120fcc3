/*
 * message.h — message templates: an .eml or .http file compiled once,
 * then built into one hd_message per recipient (internal).
 *
 * Loading splits the file into parts and compiles each part as a Mustache
 * template with the escaper of its output context:
 *
 *   .eml   header values  -> header escaping (CR/LF in a value: row invalid)
 *          text body      -> as is (valid UTF-8 required)
 *          HTML body      -> HTML escaping
 *          Herald-Attach  -> a path below the template's folder
 *   .http  URL            -> percent-encoding
 *          header values  -> header escaping
 *          body           -> by the template's Content-Type: JSON string
 *                            escaping, form encoding, HTML escaping, as is
 *
 * A compiled hd_msgtmpl is immutable: many workers build from it at once.
 * Building never touches the network; it renders, validates (addresses,
 * header values, sizes) and encodes (RFC 2047 headers, quoted-printable or
 * base64 bodies, MIME multiparts), so the bytes it returns are exactly the
 * bytes a transport sends.
 */
#ifndef HD_MESSAGE_H
#define HD_MESSAGE_H

#include "buf.h"
#include "herald.h"
#include "template.h"
#include "transport.h"

#include <jansson.h>

typedef struct hd_msgtmpl hd_msgtmpl;

typedef struct hd_msgtmpl_opts {
	/* Environment variables {{env.NAME}} may read; no others. */
	const char *const *env_names;
	size_t n_env;
	/* NULL, or an address (.eml) or URL (.http) that receives every
	 * message instead; the intended recipient is kept in X-Original-To
	 * (email) or X-Original-URL (HTTP). */
	const char *redirect;
	/* NULL, or the files the run writes: a partial or attachment that is
	 * one of them (or inside the outbox) is HD_EUSAGE.  Borrowed: it must
	 * outlive the template. */
	const struct hd__outputs *outputs;
	/* NULL, or DKIM keys, the unsubscribe secret and the envelope sender
	 * template: read (keys and secret from their files) and checked by
	 * hd_msgtmpl_load, once */
	const hd_mail_config *mail;
} hd_msgtmpl_opts;

/* Reads and compiles path (.eml or .http by extension).  HD_ENOENT when
 * it cannot be read, HD_ETEMPLATE (file, line, column) when it is wrong. */
hd_status hd_msgtmpl_load(const char *path, const hd_msgtmpl_opts *opts,
			  hd_msgtmpl **out, hd_error *err);
hd_message_kind hd_msgtmpl_kind(const hd_msgtmpl *t);
void hd_msgtmpl_free(hd_msgtmpl *t);

/* Builds the message for one record.  campaign and key seed the stable
 * Message-ID / Idempotency-Key and the unsubscribe token; row goes into
 * errors.  An email's envelope sender is rendered from --envelope-from
 * when given, and its DKIM signatures, made over the finished bytes, come
 * first in out->email.data: those bytes are exactly what is sent.  On
 * failure out is left empty and err says which tag, template line and
 * row (HD_EPARSE: a JSON body that is not JSON once rendered).
 * Thread-safe for one t and distinct records. */
hd_status hd_msgtmpl_build(const hd_msgtmpl *t, json_t *record,
			   const char *campaign, const char *key, long row,
			   hd_message *out, hd_error *err);

/* The envelope recipients of record under an .eml template, as the
 * default recipient key: "a@b.example, c@d.example" (To, Cc, Bcc in
 * template order, domains lower-cased), malloc'd into *out.  Ignores
 * --redirect: the key is who the message is meant for.  HD_EINVAL for an
 * .http template; a rendering error as hd_msgtmpl_build gives it. */
hd_status hd_msgtmpl_recipients(const hd_msgtmpl *t, json_t *record, long row,
				char **out, hd_error *err);
/* Everything hd_msgtmpl_build checks, without keeping the message and
 * without what no data can make fail: the DKIM signatures, which cost
 * more than the rest of a build (an RSA-2048 signature: ~1 ms), and the
 * encoding of the text bodies: for a validation pass.  Same errors as
 * hd_msgtmpl_build. */
hd_status hd_msgtmpl_check(const hd_msgtmpl *t, json_t *record,
			   const char *campaign, const char *key, long row,
			   hd_error *err);

/* 1 when an email template's messages pass or fail a check whatever
 * their key (no unsubscribe link, no VERP envelope sender): then
 * hd_msgtmpl_check_recipients can check a row and give its recipients
 * in one build. */
int hd_msgtmpl_key_free(const hd_msgtmpl *t);

/* hd_msgtmpl_check and hd_msgtmpl_recipients of a row in one build, for
 * a template hd_msgtmpl_key_free says 1 of (else HD_EINVAL).  On success
 * *recipients is what hd_msgtmpl_recipients gives (free() it).  When
 * the row is invalid the error is the build's, which for a row with
 * more than one fault may name another than those two would name
 * first: a caller that reports it asks them. */
hd_status hd_msgtmpl_check_recipients(const hd_msgtmpl *t, json_t *record,
				      long row, char **recipients,
				      hd_error *err);

/* Writes req in .http form: "METHOD URL", headers, a blank line, body. */
hd_status hd_request_format(hd_buf *out, const hd_request *req);

/* The stable id of (campaign, key): 32 lower-case hex digits. */
void hd_message_hash(const char *campaign, const char *key, char out[33]);

/* Shows fn every tag of every part of t (headers, attachments, bodies;
 * URL, headers and body of a request), in template order; see
 * hd_tmpl_walk.  The --envelope-from template is not shown: it sees
 * herald's {{key}} and {{id}} only. */
void hd__msgtmpl_walk(const hd_msgtmpl *t, hd_tmpl_walk_fn fn, void *ctx);

/* Lets templates read a record's field F also as {{A}}, for each
 * "A": "F" of aliases (takes the reference; NULL: none).  Before any
 * build: t is read by many threads afterwards. */
void hd__msgtmpl_set_aliases(hd_msgtmpl *t, json_t *aliases);

/* The {"NAME": "value"} object of the variables --env allowed that are
 * set, or NULL when no --env was given.  Borrowed. */
json_t *hd__msgtmpl_env(const hd_msgtmpl *t);

/* 1 when head[0..n) names a value herald puts beside a record's fields
 * ("env" with --env, "unsubscribe" with an unsubscribe secret): those
 * win over a field of the same name. */
int hd__msgtmpl_provides(const hd_msgtmpl *t, const char *head, size_t n);

/* Internal, shared by message_eml.c and message_http.c. */
typedef struct hd__part hd__part;
#endif

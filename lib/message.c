/*
 * message.c — loading message templates and what .eml and .http share:
 * partials beside the template, the env namespace, stable ids.
 */
#include "escape.h"
#include "message_int.h"

#include "address.h"
#include "escape.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void hd_message_clear(hd_message *msg)
{
	if (!msg)
		return;
	free(msg->email.from);
	for (size_t i = 0; i < msg->email.nrcpt; i++)
		free(msg->email.rcpt[i]);
	free(msg->email.rcpt);
	free(msg->email.data);
	free(msg->http.method);
	free(msg->http.url);
	for (size_t i = 0; i < msg->http.nheaders; i++) {
		free(msg->http.headers[i].name);
		free(msg->http.headers[i].value);
	}
	free(msg->http.headers);
	free(msg->http.body);
	free(msg->id);
	memset(msg, 0, sizeof(*msg));
}

/* 64-bit FNV-1a over the bytes, finished with the splitmix64 mixer so that
 * nearby inputs give unrelated outputs.  Not cryptographic: the id only has
 * to be stable and unlikely to collide. */
static uint64_t hash64(uint64_t seed, const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ 0xff) *
	    0x100000001b3ULL; /* separator: ("ab","c") != ("a","bc") */
	for (const unsigned char *p = (const unsigned char *)b; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

void hd_message_hash(const char *campaign, const char *key, char out[33])
{
	uint64_t a =
	    hash64(0x68657261ULL, campaign ? campaign : "", key ? key : "");
	uint64_t b =
	    hash64(0x6c64ULL << 32, campaign ? campaign : "", key ? key : "");

	static const char hex[] = "0123456789abcdef";

	/* "%016llx%016llx", without printf's cost on every row */
	for (int i = 0; i < 16; i++) {
		out[15 - i] = hex[a >> (4 * i) & 15];
		out[31 - i] = hex[b >> (4 * i) & 15];
	}
	out[32] = '\0';
}

hd_status hd_request_format(hd_buf *out, const hd_request *req)
{
	hd_status st = hd_buf_printf(out, "%s %s\n", req->method, req->url);

	for (size_t i = 0; st == HD_OK && i < req->nheaders; i++)
		st = hd_buf_printf(out, "%s: %s\n", req->headers[i].name,
				   req->headers[i].value);
	if (st == HD_OK)
		st = hd_buf_putc(out, '\n');
	if (st == HD_OK && req->body_len)
		st = hd_buf_append(out, req->body, req->body_len);
	return st;
}

const char *hd__line_end(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (!nl) {
		*next = end;
		return end;
	}
	*next = nl + 1;
	return nl;
}

int hd__name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

int hd__name_exact(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(name, want, n) == 0;
}

/*
 * A template or partial is UTF-8 text with LF or CRLF line ends.  What
 * else a file may hold is refused here, at its place, rather than later
 * once per row or not at all: a NUL, a CR without LF (a file saved with
 * old Mac line ends is one long line, and a bare CR in a header would
 * reach the wire), invalid UTF-8, UTF-16.  A UTF-8 byte order mark at
 * the start is dropped (*skip is its length).
 */
static hd_status check_text(const char *path, const char *what, const char *buf,
			    size_t len, size_t *skip, hd_error *err)
{
	long line = 1;
	size_t bol, i, bad;

	*skip = 0;
	if (len >= 2 && ((buf[0] == '\xFF' && buf[1] == '\xFE') ||
			 (buf[0] == '\xFE' && buf[1] == '\xFF')))
		return hd_error_set(err, HD_ETEMPLATE, path, 1, 1,
				    "the %s is UTF-16; save it as UTF-8", what);
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		*skip = 3;
	bol = *skip;
	for (i = *skip; i < len; i++) {
		if (buf[i] == '\n') {
			line++;
			bol = i + 1;
		} else if (buf[i] == '\0') {
			return hd_error_set(err, HD_ETEMPLATE, path, line,
					    (long)(i - bol) + 1,
					    "NUL byte in the %s", what);
		} else if (buf[i] == '\r' &&
			   (i + 1 == len || buf[i + 1] != '\n')) {
			return hd_error_set(err, HD_ETEMPLATE, path, line,
					    (long)(i - bol) + 1,
					    "carriage return without a line "
					    "feed in the %s (save it with LF "
					    "or CRLF line ends)",
					    what);
		}
	}
	if (!hd_utf8_valid(buf + *skip, len - *skip, &bad)) {
		bad += *skip;
		line = 1;
		bol = *skip;
		for (i = *skip; i < bad; i++)
			if (buf[i] == '\n') {
				line++;
				bol = i + 1;
			}
		return hd_error_set(err, HD_ETEMPLATE, path, line,
				    (long)(bad - bol) + 1,
				    "the %s is not valid UTF-8", what);
	}
	return HD_OK;
}

/* Reads a whole template or partial ("what" says which, for messages). */
static hd_status read_file(const char *path, const char *what, char **out,
			   size_t *len, hd_error *err)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	char *buf;
	size_t got, skip;

	*out = NULL;
	if (!fp)
		return hd_error_set(err, HD_ENOENT, path, 0, 0,
				    "cannot open %s: %s", what,
				    strerror(errno));
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(fp);
		return hd_error_set(err, HD_ENOENT, path, 0, 0,
				    "%s is not a regular file", what);
	}
	if (st.st_size > HD_TEMPLATE_MAX) {
		fclose(fp);
		return hd_error_set(err, HD_ETEMPLATE, path, 0, 0,
				    "%s is larger than 1 MiB", what);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(fp);
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	}
	got = fread(buf, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		fclose(fp);
		free(buf);
		return hd_error_set(err, HD_ENOENT, path, 0, 0,
				    "cannot read %s: %s", what,
				    strerror(errno));
	}
	fclose(fp);
	buf[got] = '\0';
	if (check_text(path, what, buf, got, &skip, err) != HD_OK) {
		free(buf);
		return HD_ETEMPLATE;
	}
	if (skip)
		memmove(buf, buf + skip, got - skip + 1);
	*out = buf;
	*len = got - skip;
	return HD_OK;
}

/* Partials are files beside the template: NAME, else NAME.mustache.  A name
 * that could leave the folder (absolute, "..", a NUL) is refused. */
static hd_status load_partial(void *ctx, const char *name, char **text,
			      size_t *len, hd_error *err)
{
	const hd_msgtmpl *t = ctx;
	static const char *const suffixes[] = {"", ".mustache"};
	char path[PATH_MAX];

	*text = NULL;
	*len = 0;
	if (name[0] == '/' || strstr(name, "..") || !name[0])
		return hd_error_set(err, HD_ETEMPLATE, t->path, 0, 0,
				    "partial '%s' would leave the template's "
				    "folder",
				    name);
	for (size_t i = 0; i < 2; i++) {
		if (snprintf(path, sizeof(path), "%s/%s%s", t->dir, name,
			     suffixes[i]) >= (int)sizeof(path) ||
		    access(path, F_OK) != 0)
			continue;
		if (hd__outputs_check(t->outputs, path,
				      "a partial of the "
				      "template",
				      err) != HD_OK)
			return HD_EUSAGE;
		return read_file(path, "partial", text, len, err);
	}
	return HD_OK; /* missing: renders empty, as the spec says */
}

hd_status hd__part_compile(const hd_msgtmpl *t, const char *text, size_t len,
			   long first_line, long first_column, hd_tmpl **out,
			   hd_error *err)
{
	hd_tmpl_opts o = {
	    .source = t->path,
	    .first_line = first_line,
	    .first_column = first_column,
	    .lenient = 0,
	    .partial = load_partial,
	    .partial_ctx = (void *)t,
	};
	return hd_tmpl_compile(text, len, &o, out, err);
}

hd_status hd__part_render(const hd_tmpl *part, json_t *ctx, hd_escape_fn esc,
			  hd_escape_fn raw, long row, hd_buf *out,
			  hd_error *err)
{
	hd_tmpl_render_opts ro = {.escape = esc, .raw = raw, .row = row};
	return hd_tmpl_render(part, ctx, &ro, out, err);
}

/* {"token": "..."}: the recipient's one-click unsubscribe token. */
static json_t *unsubscribe_object(const hd_msgtmpl *t, const char *campaign,
				  const char *key)
{
	hd_buf tok = HD_BUF_INIT;
	json_t *o = NULL;

	if (hd__unsub_token(t->unsub, campaign ? campaign : "", key ? key : "",
			    &tok) == HD_OK)
		o = json_pack("{s:s}", "token", tok.data);
	hd_buf_free(&tok);
	return o;
}

json_t *hd__context_new(const hd_msgtmpl *t, json_t *record,
			const char *campaign, const char *key)
{
	json_t *ctx;
	const char *alias;
	json_t *field;

	if (!t->env && !t->unsub && !t->aliases)
		return record;
	ctx = json_object();
	if (!ctx)
		return NULL;
	/* a shallow copy: the record's values are shared, not copied; the env
	 * object is deep-copied so no two threads touch one refcount; herald's
	 * names win over a record's fields of the same name */
	if (json_object_update(ctx, record) != 0) {
		json_decref(ctx);
		return NULL;
	}
	/* the copy holds references the record holds too, which no other
	 * thread's row shares: each row is its own record */
	json_object_foreach(t->aliases, alias, field)
	{
		json_t *v = json_object_get(record, json_string_value(field));
		if (v && !json_object_get(ctx, alias) &&
		    json_object_set(ctx, alias, v) != 0) {
			json_decref(ctx);
			return NULL;
		}
	}
	if ((t->env &&
	     json_object_set_new(ctx, "env", json_deep_copy(t->env)) != 0) ||
	    (t->unsub &&
	     json_object_set_new(ctx, "unsubscribe",
				 unsubscribe_object(t, campaign, key)) != 0)) {
		json_decref(ctx);
		return NULL;
	}
	return ctx;
}

void hd__context_release(const hd_msgtmpl *t, json_t *record, json_t *ctx)
{
	if (ctx && ctx != record)
		json_decref(ctx);
	(void)t;
}

long long hd__message_time(void)
{
	const char *fixed = getenv("SOURCE_DATE_EPOCH");

	return fixed && *fixed ? strtoll(fixed, NULL, 10)
			       : (long long)time(NULL);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static hd_status make_env(hd_msgtmpl *t, const hd_msgtmpl_opts *opts,
			  hd_error *err)
{
	if (!opts || opts->n_env == 0)
		return HD_OK;
	t->env = json_object();
	if (!t->env)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	for (size_t i = 0; i < opts->n_env; i++) {
		const char *v = getenv(opts->env_names[i]);
		json_t *s;

		/* not set: null, so {{env.NAME}} fails as missing and the
		 * error can say it is allowed but not set */
		s = v ? json_string(v) : json_null();
		if (!s)
			return hd_error_set(err, HD_EUTF8, NULL, 0, 0,
					    "environment variable %s is not "
					    "valid UTF-8",
					    opts->env_names[i]);
		json_object_set_new(t->env, opts->env_names[i], s);
	}
	return HD_OK;
}

/* The context the envelope sender template renders in: herald's own
 * values, never the record's (see make_mail). */
static json_t *envelope_context(const char *key, const char *id)
{
	return json_pack("{s:s,s:s}", "key", key ? key : "", "id", id);
}

/* Renders the --envelope-from template for one message into out (a bare
 * address, checked). */
static hd_status render_envelope(const hd_msgtmpl *t, const char *key,
				 const char *id, long row, hd_buf *out,
				 hd_error *err)
{
	json_t *ctx = envelope_context(key, id);
	hd_tmpl_render_opts ro = {hd_escape_local_part, hd_escape_local_part,
				  row};
	hd_status st;

	if (!ctx)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	st = hd_tmpl_render(t->envelope_from, ctx, &ro, out, err);
	json_decref(ctx);
	if (st == HD_OK)
		st =
		    hd_address_check(out->data ? out->data : "", out->len, err);
	if (st != HD_OK) {
		char why[sizeof(err->msg)];
		snprintf(why, sizeof(why), "%s", err ? err->msg : "");
		hd_error_set(err, st == HD_ENOMEM ? st : HD_EADDRESS, NULL, 0,
			     0, "--envelope-from: %s", why);
		hd_error_set_field(err, "--envelope-from");
		return err ? err->code : HD_EADDRESS;
	}
	return HD_OK;
}

/*
 * The deliverability settings: DKIM keys and the unsubscribe secret are
 * read here, once; the envelope sender template is compiled and tried.
 * It sees {{key}} (the recipient key) and {{id}} (the 32 hex digits of
 * the Message-ID) only: where bounces go is the sender's choice, so the
 * record's own fields, which could name any address, are not offered, and
 * each value is escaped for a local part so that data can only ever
 * change the part of the address the template gave it.
 */
static hd_status make_mail(hd_msgtmpl *t, const hd_mail_config *m,
			   const char *text, hd_error *err)
{
	static const hd_mail_config none;
	hd_status st = HD_OK;

	if (!m)
		m = &none;
	if (t->kind == HD_MSG_HTTP && (m->n_dkim || m->envelope_from))
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "%s needs an .eml template",
				    m->n_dkim ? "--dkim" : "--envelope-from");
	st = hd__dkim_new(m->dkim, m->n_dkim, m->dkim_omit, m->n_dkim_omit,
			  &t->dkim, err);
	if (st == HD_OK && m->unsubscribe_secret_file)
		st = hd__unsub_secret_load(m->unsubscribe_secret_file,
					   &t->unsub, err);
	/* without a secret every row would fail on the tag: say it once */
	if (st == HD_OK && !t->unsub && strstr(text, "unsubscribe.token"))
		st = hd_error_set(err, HD_EUSAGE, t->path, 0, 0,
				  "the template uses {{unsubscribe.token}}: "
				  "give --unsubscribe-secret-file");
	if (st == HD_OK && m->envelope_from) {
		hd_tmpl_opts o = {.source = "--envelope-from"};
		hd_buf probe = HD_BUF_INIT;
		st = hd_tmpl_compile(m->envelope_from, strlen(m->envelope_from),
				     &o, &t->envelope_from, err);
		if (st == HD_OK)
			st = render_envelope(t, "probe@example.com",
					     "00000000000000000000000000000000",
					     0, &probe, err);
		hd_buf_free(&probe);
		if (st != HD_OK) {
			char why[sizeof(err->msg)];
			snprintf(why, sizeof(why), "%s", err ? err->msg : "");
			st = hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
					  "%s (in '%.200s', which may use "
					  "{{key}} and {{id}} only)",
					  why, m->envelope_from);
			hd_error_set_field(err, "");
		}
	}
	return st;
}

/* --redirect must be of the template's kind: an address for email, a
 * URL for HTTP; else every message would go nowhere (or somewhere). */
static hd_status check_redirect(const hd_msgtmpl *t, hd_error *err)
{
	const char *r = t->redirect;
	hd_error why;

	if (!r)
		return HD_OK;
	if (t->kind == HD_MSG_EMAIL) {
		if (hd_address_check(r, strlen(r), &why) == HD_OK)
			return HD_OK;
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--redirect takes an email address for an "
				    ".eml template: '%.200s': %s",
				    r, why.msg);
	}
	if ((strncasecmp(r, "http://", 7) == 0 ||
	     strncasecmp(r, "https://", 8) == 0) &&
	    !strpbrk(r, " \t\r\n") && strlen(r) > 8)
		return HD_OK;
	return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
			    "--redirect takes an http:// or https:// URL for "
			    "an .http template, not '%.200s'",
			    r);
}

hd_status hd_msgtmpl_load(const char *path, const hd_msgtmpl_opts *opts,
			  hd_msgtmpl **out, hd_error *err)
{
	hd_msgtmpl *t;
	char *text = NULL, *slash, real[PATH_MAX];
	size_t len = 0;
	hd_status st;

	*out = NULL;
	if (!has_suffix(path, ".eml") && !has_suffix(path, ".http"))
		return hd_error_set(err, HD_EUSAGE, path, 0, 0,
				    "a template is an .eml or .http file");
	st = read_file(path, "template", &text, &len, err);
	if (st != HD_OK)
		return st;
	t = calloc(1, sizeof(*t));
	if (!t) {
		free(text);
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	}
	t->kind = has_suffix(path, ".eml") ? HD_MSG_EMAIL : HD_MSG_HTTP;
	t->path = strdup(path);
	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	slash = strrchr(real, '/');
	if (slash)
		*slash = '\0';
	t->dir = strdup(slash ? (real[0] ? real : "/") : ".");
	if (opts && opts->redirect)
		t->redirect = strdup(opts->redirect);
	if (opts)
		t->outputs = opts->outputs;
	if (!t->path || !t->dir || (opts && opts->redirect && !t->redirect)) {
		st = hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
		goto out;
	}
	st = check_redirect(t, err);
	if (st == HD_OK)
		st = make_env(t, opts, err);
	if (st == HD_OK)
		st = make_mail(t, opts ? opts->mail : NULL, text, err);
	if (st != HD_OK)
		goto out;
	if (t->kind == HD_MSG_EMAIL)
		st = hd__eml_compile(t, text, len, err);
	else
		st = hd__http_compile(t, text, len, err);
out:
	free(text);
	if (st != HD_OK) {
		hd_msgtmpl_free(t);
		return st;
	}
	*out = t;
	return HD_OK;
}

hd_message_kind hd_msgtmpl_kind(const hd_msgtmpl *t)
{
	return t->kind;
}

void hd_msgtmpl_free(hd_msgtmpl *t)
{
	if (!t)
		return;
	if (t->kind == HD_MSG_EMAIL)
		hd__eml_free(t->impl);
	else
		hd__http_free(t->impl);
	json_decref(t->env);
	json_decref(t->aliases);
	hd__dkim_free(t->dkim);
	hd__unsub_secret_free(t->unsub);
	hd_tmpl_free(t->envelope_from);
	free(t->path);
	free(t->dir);
	free(t->redirect);
	free(t);
}

/* What an email gets once its bytes are final: the envelope sender from
 * --envelope-from, then the DKIM signatures, which go first. */
static hd_status finish_email(const hd_msgtmpl *t, const char *key,
			      const char *hash, long row, int sign,
			      hd_message *out, hd_error *err)
{
	hd_buf b = HD_BUF_INIT;
	hd_status st = HD_OK;

	if (t->envelope_from) {
		st = render_envelope(t, key, hash, row, &b, err);
		if (st != HD_OK) {
			hd_buf_free(&b);
			return st;
		}
		free(out->email.from);
		out->email.from = hd_buf_detach(&b, NULL);
		if (!out->email.from)
			return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	if (!t->dkim || !sign)
		return HD_OK;
	st = hd__dkim_sign(t->dkim, out->email.data, out->email.len,
			   hd__message_time(), &b, err);
	if (st == HD_OK)
		st = hd_buf_append(&b, out->email.data, out->email.len);
	if (st == HD_OK) {
		free(out->email.data);
		out->email.data = hd_buf_detach(&b, &out->email.len);
		if (!out->email.data)
			st = HD_ENOMEM;
	}
	hd_buf_free(&b);
	return st;
}

/* checking: for hd_msgtmpl_check, which signs nothing and keeps no
 * message (hd__eml_build says what else it leaves out). */
static hd_status build(const hd_msgtmpl *t, json_t *record,
		       const char *campaign, const char *key, long row,
		       int checking, hd_buf *recipients, hd_message *out,
		       hd_error *err)
{
	char hash[33];
	json_t *ctx;
	hd_status st;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(record))
		return hd_error_set(err, HD_EINVAL, t->path, 0, 0,
				    "record is not an object");
	ctx = hd__context_new(t, record, campaign, key);
	if (!ctx)
		return hd_error_set(err, HD_ENOMEM, t->path, 0, 0, NULL);
	hd_message_hash(campaign, key, hash);
	if (t->kind == HD_MSG_EMAIL)
		st = hd__eml_build(t, ctx, hash, row, checking, recipients, out,
				   err);
	else
		st = hd__http_build(t, ctx, hash, row, out, err);
	hd__context_release(t, record, ctx);
	if (st == HD_OK && t->kind == HD_MSG_EMAIL)
		st = finish_email(t, key, hash, row, !checking, out, err);
	if (st != HD_OK) {
		hd_message_clear(out);
		if (err && err->row == 0)
			err->row = row;
	}
	return st;
}

hd_status hd_msgtmpl_recipients(const hd_msgtmpl *t, json_t *record, long row,
				char **out, hd_error *err)
{
	hd_buf b = HD_BUF_INIT;
	json_t *ctx;
	hd_status st;

	*out = NULL;
	if (t->kind != HD_MSG_EMAIL)
		return hd_error_set(err, HD_EINVAL, t->path, 0, 0,
				    "not an email template");
	if (!json_is_object(record))
		return hd_error_set(err, HD_EINVAL, t->path, 0, 0,
				    "record is not an object");
	ctx = hd__context_new(t, record, "", "");
	if (!ctx)
		return hd_error_set(err, HD_ENOMEM, t->path, 0, 0, NULL);
	st = hd__eml_recipients(t, ctx, row, &b, err);
	hd__context_release(t, record, ctx);
	if (st == HD_OK && !(*out = hd_buf_detach(&b, NULL)))
		st = HD_ENOMEM;
	hd_buf_free(&b);
	if (st != HD_OK && err && err->row == 0)
		err->row = row;
	return st;
}

hd_status hd_msgtmpl_build(const hd_msgtmpl *t, json_t *record,
			   const char *campaign, const char *key, long row,
			   hd_message *out, hd_error *err)
{
	return build(t, record, campaign, key, row, 0, NULL, out, err);
}

hd_status hd_msgtmpl_check(const hd_msgtmpl *t, json_t *record,
			   const char *campaign, const char *key, long row,
			   hd_error *err)
{
	hd_message m;
	hd_status st = build(t, record, campaign, key, row, 1, NULL, &m, err);

	hd_message_clear(&m);
	return st;
}

int hd_msgtmpl_key_free(const hd_msgtmpl *t)
{
	/* the key reaches a message through the unsubscribe link and the
	 * VERP envelope sender; otherwise only the Message-ID and the
	 * boundaries, which no check looks at */
	return t->kind == HD_MSG_EMAIL && !t->unsub && !t->envelope_from;
}

hd_status hd_msgtmpl_check_recipients(const hd_msgtmpl *t, json_t *record,
				      long row, char **recipients,
				      hd_error *err)
{
	hd_buf b = HD_BUF_INIT;
	hd_message m;
	hd_status st;

	*recipients = NULL;
	if (!hd_msgtmpl_key_free(t))
		return hd_error_set(err, HD_EINVAL, t->path, 0, 0,
				    "the template's messages depend on the "
				    "key");
	st = build(t, record, "", "", row, 1, &b, &m, err);
	hd_message_clear(&m);
	if (st == HD_OK && !(*recipients = hd_buf_detach(&b, NULL)))
		st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	hd_buf_free(&b);
	return st;
}

void hd__msgtmpl_walk(const hd_msgtmpl *t, hd_tmpl_walk_fn fn, void *ctx)
{
	if (t->kind == HD_MSG_EMAIL)
		hd__eml_walk(t, fn, ctx);
	else
		hd__http_walk(t, fn, ctx);
}

void hd__msgtmpl_set_aliases(hd_msgtmpl *t, json_t *aliases)
{
	json_decref(t->aliases);
	t->aliases = aliases;
}

json_t *hd__msgtmpl_env(const hd_msgtmpl *t)
{
	return t->env;
}

int hd__msgtmpl_provides(const hd_msgtmpl *t, const char *head, size_t n)
{
	return (t->env && hd__name_exact(head, n, "env")) ||
	       (t->unsub && hd__name_exact(head, n, "unsubscribe"));
}

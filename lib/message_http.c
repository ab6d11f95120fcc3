/*
 * message_http.c — .http templates: one HTTP request in the common .http
 * request-file format.
 *
 *   # comment lines (# or //) and blank lines may come first
 *   POST https://hooks.example.com/services/{{team}}
 *   Content-Type: application/json
 *   Authorization: Bearer {{env.HOOK_TOKEN}}
 *
 *   {"text": "Hello {{name}}"}
 *
 * The URL's tags are percent-encoded, header values may not hold CR/LF,
 * and the body is escaped by the template's Content-Type (JSON string
 * escaping, form encoding, HTML escaping, else as is).  {{{raw}}} opts
 * out of percent-encoding and body escaping, never of the CR/LF check.
 * herald adds an Idempotency-Key unless the template sets one.
 */
#define _GNU_SOURCE /* memmem */
#include "escape.h"
#include "json_check.h"
#include "message_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS 64

struct http_header {
	char *name;
	hd_tmpl *value;
	long line;
};

struct http_tmpl {
	char *method;
	hd_tmpl *authority; /* scheme://user:pass@host:port, no path */
	hd_tmpl *url;	    /* the rest: path, query, fragment */
	long url_line;
	struct http_header h[MAX_HEADERS];
	size_t nh;
	int has_idem;
	hd_tmpl *body;
	long body_line;
	hd_escape_fn body_escape;
	char bare_tag[64]; /* JSON body: the first tag outside quotes, or "" */
	int body_json;	   /* JSON body: JSON whatever the row (always_json) */
};

void hd__http_free(void *impl)
{
	struct http_tmpl *h = impl;

	if (!h)
		return;
	free(h->method);
	hd_tmpl_free(h->authority);
	hd_tmpl_free(h->url);
	for (size_t i = 0; i < h->nh; i++) {
		free(h->h[i].name);
		hd_tmpl_free(h->h[i].value);
	}
	hd_tmpl_free(h->body);
	free(h);
}

/* {{{raw}}} in a URL: as is, but nothing that would end the URL or the
 * request line (white space, control bytes). */
static hd_status escape_raw_url(hd_buf *out, const char *s, size_t n,
				hd_error *err)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f)
			return hd_error_set(err, HD_EINVAL, NULL, 0, 0,
					    "white space or control character "
					    "in a raw URL value");
	}
	return hd_buf_append(out, s, n);
}

/* {{{raw}}} in a body: as is, but still valid UTF-8. */
static hd_status escape_raw_body(hd_buf *out, const char *s, size_t n,
				 hd_error *err)
{
	return hd_escape_text(out, s, n, err);
}

/* 1 when the path of url has a "." or ".." segment: clients and servers
 * resolve them away (RFC 3986 5.2.4; curl does before sending). */
static int has_dot_segment(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 + strcspn(p + 3, "/?#") : NULL;
	while (p && *p == '/') {
		const char *s = p + 1;
		size_t n = strcspn(s, "/?#");

		if ((n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return 1;
		p = s + n;
	}
	return 0;
}

static int is_comment(const char *p, const char *le)
{
	while (p < le && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p == le || *p == '#' ||
	       (le - p >= 2 && p[0] == '/' && p[1] == '/');
}

/* {{{raw}}} and {{x}} in the authority (user, password, host, port):
 * unreserved bytes only, or the row is invalid.  Percent-encoding cannot
 * keep a value there: libcurl decodes %XX in a host name, so an encoded
 * "[::%2]" became the host [::] (found by fuzz/fuzz_url), and "%2F" or
 * "%40" would move the rest of the authority elsewhere. */
static hd_status escape_authority(hd_buf *out, const char *s, size_t n,
				  hd_error *err)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == '~'))
			return hd_error_set(err, HD_EINVAL, NULL, 0, 0,
					    "a value in the URL's host, port "
					    "or user part may hold only "
					    "letters, digits and - . _ ~");
	}
	return hd_buf_append(out, s, n);
}

/*
 * Scans the URL's own text (outside {{tags}}, which may hold blanks and
 * slashes) from p to e.  what 0: the first byte no URL may hold, white
 * space or a control character (it would end the request line, and
 * libcurl refuses such a URL when it is sent, so every row would fail),
 * or NULL.  what 1: where the authority ends (the first '/', '?' or '#'),
 * or e.
 */
static const char *scan_url(const char *p, const char *e, int what)
{
	while (p < e) {
		if (e - p >= 2 && p[0] == '{' && p[1] == '{') {
			const char *c =
			    memmem(p + 2, (size_t)(e - p - 2), "}}", 2);
			if (!c)
				break; /* the compiler names the tag */
			p = c + 2;
			continue;
		}
		if (what == 0 && ((unsigned char)*p <= ' ' || *p == 0x7f))
			return p;
		if (what == 1 && (*p == '/' || *p == '?' || *p == '#'))
			return p;
		p++;
	}
	return what == 0 ? NULL : e;
}

/* 1 when s[0..n) holds white space or a control byte. */
static int has_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 1;
	return 0;
}

static hd_status parse_request_line(hd_msgtmpl *t, struct http_tmpl *h,
				    const char *p, const char *le, long line,
				    hd_error *err)
{
	const char *sp = p, *url, *uend, *bad, *aend;
	hd_status st;

	while (sp < le && isupper((unsigned char)*sp))
		sp++;
	if (sp == p || sp == le || *sp != ' ')
		return hd_error_set(err, HD_ETEMPLATE, t->path, line, 1,
				    "expected 'METHOD URL' (e.g. POST "
				    "https://...)");
	h->method = strndup(p, (size_t)(sp - p));
	url = sp;
	while (url < le && *url == ' ')
		url++;
	uend = le;
	while (uend > url && (uend[-1] == '\r' || uend[-1] == ' '))
		uend--;
	/* an optional trailing " HTTP/1.1" */
	for (const char *q = url; q < uend; q++)
		if (*q == ' ' && uend - q > 5 &&
		    strncmp(q + 1, "HTTP/", 5) == 0) {
			uend = q;
			break;
		}
	if (!h->method || uend == url)
		return hd_error_set(err, h->method ? HD_ETEMPLATE : HD_ENOMEM,
				    t->path, line, 1,
				    "no URL after the method");
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
		return hd_error_set(err, HD_ETEMPLATE, t->path, line,
				    (long)(url - p) + 1,
				    "the URL must start with http:// or "
				    "https://");
	if ((bad = scan_url(url, uend, 0)) != NULL)
		return hd_error_set(err, HD_ETEMPLATE, t->path, line,
				    (long)(bad - p) + 1,
				    "white space or a control character in "
				    "the URL (write a space as %%20)");
	h->url_line = line;
	/* the authority gets an escaper of its own */
	aend = scan_url(strstr(url, "://") + 3, uend, 1);
	st = hd__part_compile(t, url, (size_t)(aend - url), line,
			      (long)(url - p) + 1, &h->authority, err);
	if (st != HD_OK)
		return st;
	return hd__part_compile(t, aend, (size_t)(uend - aend), line,
				(long)(aend - p) + 1, &h->url, err);
}

/* The first "{{tag}}" of a JSON body that no quote opens before it:
 * its value becomes the inside of a JSON string, so there it makes
 * invalid JSON.  Only for the hint of that error. */
static void find_bare_tag(const char *p, const char *end, char *out,
			  size_t size)
{
	int in_string = 0;

	out[0] = '\0';
	for (; p < end; p++) {
		if (in_string && *p == '\\' && p + 1 < end) {
			p++;
		} else if (*p == '"') {
			in_string = !in_string;
		} else if (end - p >= 3 && !memcmp(p, "{{{", 3)) {
			/* {{{raw}}}: its value is the JSON itself */
			const char *c = memmem(p, (size_t)(end - p), "}}}", 3);
			if (!c)
				return;
			p = c + 2;
		} else if (!in_string && end - p >= 3 && p[0] == '{' &&
			   p[1] == '{' && !strchr("#^/!>=<$&", p[2])) {
			const char *c = memmem(p, (size_t)(end - p), "}}", 2);
			if (c)
				snprintf(out, size, "%.*s", (int)(c + 2 - p),
					 p);
			return;
		}
	}
}

/* Is the JSON body JSON whatever a row holds?  Yes when the template is
 * JSON with every tag an escaped value inside a string (the usual
 * webhook): a value escaped as a string's inside cannot make it invalid,
 * and no row's body needs a look (twice a row, the check and the send:
 * 8% of a webhook's instructions in a dry run).  Returns 1, 0, or -1 when
 * memory ran out. */
static int always_json(const hd_tmpl *body)
{
	hd_buf text = HD_BUF_INIT;
	size_t *at = NULL, nat = 0;
	int r = hd_tmpl_flatten(body, &text, &at, &nat);

	if (r == 1)
		r = hd__json_check_marks(text.data ? text.data : "", text.len,
					 at, nat) == HD_JSON_VALID;
	free(at);
	hd_buf_free(&text);
	return r;
}

/* A JSON body once rendered must be JSON: a template that puts a value
 * outside quotes, or a raw value that is not JSON, makes the row
 * invalid rather than a request the API refuses. */
static hd_status check_json_body(const hd_msgtmpl *t, const struct http_tmpl *h,
				 const char *body, size_t len, hd_error *err)
{
	json_error_t je;
	json_t *v;
	char why[160], *near;

	if (h->body_escape != hd_escape_json || len == 0 || h->body_json)
		return HD_OK;
	if (hd__json_check(body, len) == HD_JSON_VALID)
		return HD_OK; /* jansson would build a tree only to free it */
	v = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (v) {
		json_decref(v);
		return HD_OK;
	}
	/* jansson quotes the data near the fault: not in a row's error */
	snprintf(why, sizeof(why), "%s", je.text);
	if ((near = strstr(why, " near ")) != NULL)
		*near = '\0';
	hd_error_set(err, HD_EPARSE, t->path, h->body_line + je.line - 1, 0,
		     "the body is not valid JSON once rendered: %s (line %d, "
		     "column %d of the body)%s%s%s",
		     why, je.line, je.column,
		     h->bare_tag[0] ? "; a tag gives the inside of a JSON "
				      "string: quote it, \""
				    : "",
		     h->bare_tag, h->bare_tag[0] ? "\"" : "");
	hd_error_set_field(err, "body");
	return HD_EPARSE;
}

hd_status hd__http_compile(hd_msgtmpl *t, const char *text, size_t len,
			   hd_error *err)
{
	struct http_tmpl *h = calloc(1, sizeof(*h));
	const char *p = text, *end = text + len, *next, *le;
	const char *ctype = NULL;
	size_t ctype_len = 0;
	long line = 1;
	hd_status st;

	if (!h)
		return hd_error_set(err, HD_ENOMEM, t->path, 0, 0, NULL);
	t->impl = h;
	while (p < end) {
		le = hd__line_end(p, end, &next);
		if (!is_comment(p, le))
			break;
		p = next;
		line++;
	}
	if (p == end)
		return hd_error_set(err, HD_ETEMPLATE, t->path, line, 1,
				    "no request line");
	le = hd__line_end(p, end, &next);
	st = parse_request_line(t, h, p, le, line, err);
	if (st != HD_OK)
		return st;
	p = next;
	line++;
	while (p < end) {
		const char *colon, *v;
		struct http_header *hh;

		le = hd__line_end(p, end, &next);
		if (le > p && le[-1] == '\r')
			le--;
		if (le == p) {
			p = next;
			line++;
			break;
		}
		colon = memchr(p, ':', (size_t)(le - p));
		if (!colon || colon == p)
			return hd_error_set(err, HD_ETEMPLATE, t->path, line, 1,
					    "expected 'Name: value' or a blank "
					    "line before the body");
		for (const char *q = p; q < colon; q++)
			if ((unsigned char)*q <= ' ' ||
			    (unsigned char)*q >= 127)
				return hd_error_set(err, HD_ETEMPLATE, t->path,
						    line, (long)(q - p) + 1,
						    "bad character in header "
						    "name");
		if (h->nh == MAX_HEADERS)
			return hd_error_set(err, HD_ETEMPLATE, t->path, line, 1,
					    "more than %d headers",
					    MAX_HEADERS);
		hh = &h->h[h->nh];
		hh->name = strndup(p, (size_t)(colon - p));
		hh->line = line;
		if (!hh->name)
			return hd_error_set(err, HD_ENOMEM, t->path, 0, 0,
					    NULL);
		v = colon + 1;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		st = hd__part_compile(t, v, (size_t)(le - v), line,
				      (long)(v - p) + 1, &hh->value, err);
		if (st != HD_OK) {
			free(hh->name);
			return st;
		}
		h->nh++;
		if (hd__name_is(p, (size_t)(colon - p), "Content-Type")) {
			ctype = v;
			ctype_len = (size_t)(le - v);
		}
		if (hd__name_is(p, (size_t)(colon - p), "Idempotency-Key"))
			h->has_idem = 1;
		p = next;
		line++;
	}
	/* the body: everything after the blank line, without the file's
	 * final line break(s) */
	{
		const char *bend = end;
		char ct[128] = "";

		while (bend > p && (bend[-1] == '\n' || bend[-1] == '\r'))
			bend--;
		if (ctype)
			snprintf(ct, sizeof(ct), "%.*s", (int)ctype_len, ctype);
		h->body_escape = hd_escape_for_content_type(ct);
		h->body_line = line;
		if (h->body_escape == hd_escape_json)
			find_bare_tag(p, bend, h->bare_tag,
				      sizeof(h->bare_tag));
		st = hd__part_compile(t, p, (size_t)(bend - p), line, 1,
				      &h->body, err);
		if (st == HD_OK && h->body_escape == hd_escape_json &&
		    (h->body_json = always_json(h->body)) < 0)
			st = hd_error_set(err, HD_ENOMEM, t->path, 0, 0, NULL);
		return st;
	}
}

static hd_status push_header(hd_request *r, const char *name, const char *v,
			     size_t vlen)
{
	hd_header *grown =
	    realloc(r->headers, (r->nheaders + 1) * sizeof(hd_header));

	if (!grown)
		return HD_ENOMEM;
	r->headers = grown;
	grown[r->nheaders].name = strdup(name);
	grown[r->nheaders].value = strndup(v, vlen);
	if (!grown[r->nheaders].name || !grown[r->nheaders].value) {
		free(grown[r->nheaders].name);
		free(grown[r->nheaders].value);
		return HD_ENOMEM;
	}
	r->nheaders++;
	return HD_OK;
}

hd_status hd__http_build(const hd_msgtmpl *t, json_t *ctx, const char *hash,
			 long row, hd_message *out, hd_error *err)
{
	const struct http_tmpl *h = t->impl;
	hd_request *r = &out->http;
	hd_buf b = HD_BUF_INIT;
	char key[40];
	hd_status st;

	out->kind = HD_MSG_HTTP;
	/* the Idempotency-Key as a UUID-shaped string: APIs that check its
	 * form accept it, and it is the same on every attempt and rerun */
	memcpy(key, hash, 8);
	key[8] = '-';
	memcpy(key + 9, hash + 8, 4);
	key[13] = '-';
	memcpy(key + 14, hash + 12, 4);
	key[18] = '-';
	memcpy(key + 19, hash + 16, 4);
	key[23] = '-';
	memcpy(key + 24, hash + 20, 12);
	key[36] = '\0';
	out->id = strdup(key);
	r->method = strdup(h->method);
	if (!out->id || !r->method)
		return hd_error_set(err, HD_ENOMEM, t->path, 0, 0, NULL);
	st = hd__part_render(h->authority, ctx, escape_authority,
			     escape_authority, row, &b, err);
	if (st == HD_OK)
		st = hd__part_render(h->url, ctx, hd_escape_url, escape_raw_url,
				     row, &b, err);
	/* values are escaped, but a partial's text is not: whatever made
	 * it, a URL with a blank or a control byte is never sent */
	if (st == HD_OK && has_blank(b.data, b.len))
		st = hd_error_set(err, HD_EINVAL, t->path, h->url_line, 0,
				  "white space or a control character in the "
				  "URL (from a partial?)");
	if (st == HD_OK && has_dot_segment(b.data))
		st = hd_error_set(err, HD_EINVAL, t->path, h->url_line, 0,
				  "a value makes a '.' or '..' path segment: "
				  "the request would go to another path");
	if (st != HD_OK)
		goto out;
	if (t->redirect) {
		st = push_header(r, "X-Original-URL", b.data, b.len);
		r->url = strdup(t->redirect);
	} else {
		r->url = strndup(b.data, b.len);
	}
	if (st == HD_OK && !r->url)
		st = HD_ENOMEM;
	for (size_t i = 0; st == HD_OK && i < h->nh; i++) {
		hd_buf_reset(&b);
		st = hd__part_render(h->h[i].value, ctx, hd_escape_header,
				     hd_escape_raw_header, row, &b, err);
		if (st == HD_OK && (memchr(b.data ? b.data : "", '\r', b.len) ||
				    memchr(b.data ? b.data : "", '\n', b.len) ||
				    memchr(b.data ? b.data : "", '\0', b.len)))
			st = hd_error_set(err, HD_EHEADER, t->path,
					  h->h[i].line, 0,
					  "line break in header value (from a "
					  "partial?)");
		if (st != HD_OK) {
			if (err && !err->field[0])
				hd_error_set_field(err, h->h[i].name);
			break;
		}
		if (b.len == strspn(b.data ? b.data : "", " \t"))
			continue; /* an empty header is left out */
		st = push_header(r, h->h[i].name, b.data ? b.data : "", b.len);
	}
	if (st == HD_OK && !h->has_idem)
		st = push_header(r, "Idempotency-Key", key, strlen(key));
	if (st != HD_OK)
		goto out;
	hd_buf_reset(&b);
	st = hd__part_render(h->body, ctx, h->body_escape, escape_raw_body, row,
			     &b, err);
	if (st == HD_OK)
		st = check_json_body(t, h, b.data, b.len, err);
	if (st == HD_OK) {
		r->body = hd_buf_detach(&b, &r->body_len);
		if (!r->body)
			st = HD_ENOMEM;
	}
out:
	if (st == HD_ENOMEM && err && !err->msg[0])
		hd_error_set(err, HD_ENOMEM, t->path, 0, 0, NULL);
	hd_buf_free(&b);
	return st;
}

void hd__http_walk(const hd_msgtmpl *t, hd_tmpl_walk_fn fn, void *ctx)
{
	const struct http_tmpl *h = t->impl;

	hd_tmpl_walk(h->authority, fn, ctx);
	hd_tmpl_walk(h->url, fn, ctx);
	for (size_t i = 0; i < h->nh; i++)
		hd_tmpl_walk(h->h[i].value, fn, ctx);
	hd_tmpl_walk(h->body, fn, ctx);
}

/*
 * message_eml.c — .eml templates: RFC 5322 messages with Mustache tags,
 * built into MIME (RFC 2045-2049) with RFC 2047 headers.
 *
 * Template syntax (herald's own, documented in README):
 *   - headers, a blank line, the body, as in any .eml file;
 *   - a body with lines "--- text ---" and/or "--- html ---" holds a text
 *     part and/or an HTML part (both: multipart/alternative);
 *   - without them the body is text/plain, or text/html when the template
 *     says "Content-Type: text/html";
 *   - "Herald-Attach: PATH" (repeatable, templated), optionally
 *     "Herald-Attach: PATH; filename=NAME", attaches a file below the
 *     template's folder.  Herald-* headers are never sent.
 *
 * herald adds Date, Message-ID, MIME-Version, Content-Type and
 * Content-Transfer-Encoding, and removes Bcc.
 */
#include "address.h"
#include "encode.h"
#include "escape.h"
#include "message_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 64
#define MAX_ATTACH 16
#define ATTACH_MAX_BYTES (25L << 20) /* what most providers still accept */
#define LINE_MAX_OCTETS 998	     /* RFC 5322 2.1.1 */

enum hkind {
	H_PLAIN,   /* unstructured: Subject and the rest */
	H_ADDRESS, /* From, To, Cc, Reply-To, Sender: address lists */
	H_BCC,	   /* envelope only, never written */
	H_CTYPE,   /* Content-Type of a single-part body */
	H_LISTU,   /* List-Unsubscribe: URIs, never folded (RFC 8058) */
};

/* A header whose value has no tags (From: Acme <billing@acme.example>):
 * rendered, parsed and encoded once, when the template is loaded, instead
 * of for every row. */
struct fixed_header {
	int blank;	  /* renders empty: left out (From: is an error) */
	hd_mailbox *list; /* address headers: the mailboxes */
	size_t n;
	char *line; /* the header as hd_header_append writes it; */
	size_t len; /* empty for Bcc: or a blank one */
};

struct eml_header {
	char *name;
	enum hkind kind;
	hd_tmpl *value;
	long line;
	int from; /* From: the one sender address */
	int rcpt; /* To, Cc, Bcc: its addresses receive the message */
	struct fixed_header *fixed; /* or NULL: rendered per row */
};

struct eml_attach {
	hd_tmpl *path;
	hd_tmpl *filename; /* or NULL: the file's own name */
	long line;
};

struct eml {
	struct eml_header h[MAX_HEADERS];
	size_t nh;
	struct eml_attach a[MAX_ATTACH];
	size_t na;
	hd_tmpl *text; /* text/plain part or NULL */
	hd_tmpl *html; /* text/html part or NULL */
};

/* Headers herald writes itself; a template may not set them. */
static const char *const reserved[] = {
    "Message-ID", "MIME-Version",	   "Content-Transfer-Encoding",
    "Date",	  "List-Unsubscribe-Post", /* added when List-Unsubscribe has
					      https */
};

static const struct {
	const char *name;
	enum hkind kind;
} header_kinds[] = {
    {"From", H_ADDRESS},       {"To", H_ADDRESS},
    {"Cc", H_ADDRESS},	       {"Reply-To", H_ADDRESS},
    {"Sender", H_ADDRESS},     {"Bcc", H_BCC},
    {"Content-Type", H_CTYPE}, {"List-Unsubscribe", H_LISTU},
};

static void unfold(hd_buf *val);
static int blank(const hd_buf *val);
static hd_status fix_headers(const hd_msgtmpl *t, struct eml *e);

static void fixed_free(struct fixed_header *f)
{
	if (!f)
		return;
	hd_mailbox_list_free(f->list, f->n);
	free(f->line);
	free(f);
}

void hd__eml_free(void *impl)
{
	struct eml *e = impl;

	if (!e)
		return;
	for (size_t i = 0; i < e->nh; i++) {
		free(e->h[i].name);
		hd_tmpl_free(e->h[i].value);
		fixed_free(e->h[i].fixed);
	}
	for (size_t i = 0; i < e->na; i++) {
		hd_tmpl_free(e->a[i].path);
		hd_tmpl_free(e->a[i].filename);
	}
	hd_tmpl_free(e->text);
	hd_tmpl_free(e->html);
	free(e);
}

static hd_status add_attach(hd_msgtmpl *t, struct eml *e, const char *v,
			    size_t n, long line, long col, hd_error *err)
{
	const char *semi = memchr(v, ';', n);
	struct eml_attach *a;
	size_t plen = semi ? (size_t)(semi - v) : n;
	hd_status st;

	if (e->na == MAX_ATTACH)
		return hd_error_set(err, HD_ETEMPLATE, t->path, line, 0,
				    "more than %d attachments", MAX_ATTACH);
	a = &e->a[e->na];
	a->line = line;
	while (plen && (v[plen - 1] == ' ' || v[plen - 1] == '\t'))
		plen--;
	st = hd__part_compile(t, v, plen, line, col, &a->path, err);
	if (st == HD_OK && semi) {
		const char *p = semi + 1, *end = v + n;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) < 9 || strncasecmp(p, "filename=", 9)) {
			hd_tmpl_free(a->path);
			return hd_error_set(err, HD_ETEMPLATE, t->path, line, 0,
					    "Herald-Attach takes PATH or "
					    "PATH; filename=NAME");
		}
		p += 9;
		st = hd__part_compile(t, p, (size_t)(end - p), line,
				      col + (long)(p - v), &a->filename, err);
		if (st != HD_OK)
			hd_tmpl_free(a->path);
	}
	if (st == HD_OK)
		e->na++;
	return st;
}

static hd_status add_header(hd_msgtmpl *t, struct eml *e, const char *name,
			    size_t nlen, const char *v, size_t vlen, long line,
			    long col, hd_error *err)
{
	struct eml_header *h;
	hd_status st;

	for (size_t i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c >= 127 || c == ':')
			return hd_error_set(err, HD_ETEMPLATE, t->path, line,
					    (long)i + 1,
					    "bad character in header name");
	}
	if (nlen == 0)
		return hd_error_set(err, HD_ETEMPLATE, t->path, line, 1,
				    "header line without a name");
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
		col++;
	}
	if (hd__name_is(name, nlen, "Herald-Attach"))
		return add_attach(t, e, v, vlen, line, col, err);
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (hd__name_is(name, nlen, reserved[i]))
			return hd_error_set(err, HD_ETEMPLATE, t->path, line, 1,
					    "herald writes %s itself; remove "
					    "it from the template",
					    reserved[i]);
	if (e->nh == MAX_HEADERS)
		return hd_error_set(err, HD_ETEMPLATE, t->path, line, 1,
				    "more than %d headers", MAX_HEADERS);
	h = &e->h[e->nh];
	h->kind = H_PLAIN;
	for (size_t i = 0; i < sizeof(header_kinds) / sizeof(header_kinds[0]);
	     i++)
		if (hd__name_is(name, nlen, header_kinds[i].name))
			h->kind = header_kinds[i].kind;
	h->name = strndup(name, nlen);
	h->line = line;
	h->from = h->kind == H_ADDRESS && hd__name_is(name, nlen, "From");
	h->rcpt = h->kind == H_BCC || (h->kind == H_ADDRESS && !h->from &&
				       !hd__name_is(name, nlen, "Sender") &&
				       !hd__name_is(name, nlen, "Reply-To"));
	if (!h->name)
		return hd_error_set(err, HD_ENOMEM, t->path, line, 0, NULL);
	st = hd__part_compile(t, v, vlen, line, col, &h->value, err);
	if (st != HD_OK) {
		free(h->name);
		return st;
	}
	e->nh++;
	return HD_OK;
}

/* Parses the header block: "Name: value" lines, continuation lines that
 * start with white space folded into the value.  Sets *body to the first
 * byte after the blank line. */
static hd_status parse_headers(hd_msgtmpl *t, struct eml *e, const char *text,
			       const char *end, const char **body,
			       long *body_line, hd_error *err)
{
	const char *p = text, *next;
	long line = 1;
	hd_buf val = HD_BUF_INIT;
	hd_status st = HD_OK;

	while (p < end) {
		const char *le = hd__line_end(p, end, &next), *colon;
		const char *name = p;
		long hline = line;
		size_t nlen;

		if (le > p && le[-1] == '\r')
			le--;
		if (le == p) { /* the blank line */
			p = next;
			line++;
			break;
		}
		if (*p == ' ' || *p == '\t') {
			st =
			    hd_error_set(err, HD_ETEMPLATE, t->path, line, 1,
					 "continuation line before any header");
			break;
		}
		colon = memchr(p, ':', (size_t)(le - p));
		if (!colon) {
			st = hd_error_set(err, HD_ETEMPLATE, t->path, line, 1,
					  "expected 'Name: value' or a blank "
					  "line before the body");
			break;
		}
		nlen = (size_t)(colon - name);
		hd_buf_reset(&val);
		st = hd_buf_append(&val, colon + 1, (size_t)(le - colon - 1));
		p = next;
		line++;
		/* folded continuation lines (RFC 5322 2.2.3) keep their line
		 * break, so that errors name their place in the file; it is
		 * taken out once the value is rendered (unfold) */
		while (st == HD_OK && p < end && (*p == ' ' || *p == '\t')) {
			le = hd__line_end(p, end, &next);
			if (le > p && le[-1] == '\r')
				le--;
			st = hd_buf_putc(&val, '\n');
			if (st == HD_OK)
				st = hd_buf_append(&val, p, (size_t)(le - p));
			p = next;
			line++;
		}
		if (st == HD_OK)
			st = add_header(t, e, name, nlen,
					val.data ? val.data : "", val.len,
					hline, (long)(colon - name) + 2, err);
		if (st != HD_OK)
			break;
	}
	hd_buf_free(&val);
	*body = p;
	*body_line = line;
	return st;
}

/* A marker line "--- text ---" or "--- html ---" (CR allowed). */
static int marker(const char *p, const char *le)
{
	size_t n = (size_t)(le - p);

	if (n && p[n - 1] == '\r')
		n--;
	if (n == 12 && memcmp(p, "--- text ---", 12) == 0)
		return 1;
	if (n == 12 && memcmp(p, "--- html ---", 12) == 0)
		return 2;
	return 0;
}

static hd_status parse_body(hd_msgtmpl *t, struct eml *e, const char *body,
			    const char *end, long line, int single_html,
			    hd_error *err)
{
	const char *p = body, *next, *start = NULL;
	int cur = 0; /* 0 before any marker, 1 text, 2 html */
	long start_line = line;
	int seen = 0;
	hd_status st = HD_OK;

	while (p < end) {
		const char *le = hd__line_end(p, end, &next);
		int m = marker(p, le);

		if (m) {
			seen = 1;
			if (cur == 0) {
				for (const char *q = body; q < p; q++)
					if (*q != ' ' && *q != '\t' &&
					    *q != '\r' && *q != '\n')
						return hd_error_set(
						    err, HD_ETEMPLATE, t->path,
						    start_line, 0,
						    "text before the first "
						    "--- text --- or --- "
						    "html --- line");
			} else {
				hd_tmpl **slot = cur == 1 ? &e->text : &e->html;
				st = hd__part_compile(t, start,
						      (size_t)(p - start),
						      start_line, 1, slot, err);
				if (st != HD_OK)
					return st;
			}
			if ((m == 1 && e->text) || (m == 2 && e->html))
				return hd_error_set(err, HD_ETEMPLATE, t->path,
						    line, 1, "a second %s part",
						    m == 1 ? "text" : "html");
			cur = m;
			start = next;
			start_line = line + 1;
		}
		p = next;
		line++;
	}
	if (!seen) {
		hd_tmpl **slot = single_html ? &e->html : &e->text;
		return hd__part_compile(t, body, (size_t)(end - body),
					start_line, 1, slot, err);
	}
	if (cur) {
		hd_tmpl **slot = cur == 1 ? &e->text : &e->html;
		st = hd__part_compile(t, start, (size_t)(end - start),
				      start_line, 1, slot, err);
	}
	return st;
}

hd_status hd__eml_compile(hd_msgtmpl *t, const char *text, size_t len,
			  hd_error *err)
{
	struct eml *e = calloc(1, sizeof(*e));
	const char *body;
	long body_line;
	int single_html = 0, has_from = 0, has_rcpt = 0;
	hd_status st;

	if (!e)
		return hd_error_set(err, HD_ENOMEM, t->path, 0, 0, NULL);
	t->impl = e;
	st = parse_headers(t, e, text, text + len, &body, &body_line, err);
	if (st != HD_OK)
		return st;
	for (size_t i = 0; i < e->nh; i++) {
		if (e->h[i].from)
			has_from = 1;
		if (e->h[i].rcpt)
			has_rcpt = 1;
	}
	if (!has_from)
		return hd_error_set(err, HD_ETEMPLATE, t->path, 1, 1,
				    "no From: header");
	if (!has_rcpt)
		return hd_error_set(err, HD_ETEMPLATE, t->path, 1, 1,
				    "no To:, Cc: or Bcc: header");
	/* the template's own Content-Type chooses text or HTML for a body
	 * without part markers; rendered later only to check it */
	for (size_t i = 0; i < e->nh; i++) {
		hd_buf b = HD_BUF_INIT;
		json_t *empty;

		if (e->h[i].kind != H_CTYPE)
			continue;
		empty = json_object();
		hd_tmpl_render_opts ro = {0};
		ro.escape = hd_escape_header;
		st = hd_tmpl_render(e->h[i].value, empty, &ro, &b, NULL);
		json_decref(empty);
		if (st != HD_OK || !b.data) {
			hd_buf_free(&b);
			return hd_error_set(err, HD_ETEMPLATE, t->path,
					    e->h[i].line, 1,
					    "Content-Type cannot be templated");
		}
		if (strncasecmp(b.data, "text/html", 9) == 0)
			single_html = 1;
		else if (strncasecmp(b.data, "text/plain", 10) != 0) {
			hd_buf_free(&b);
			return hd_error_set(
			    err, HD_ETEMPLATE, t->path, e->h[i].line, 1,
			    "Content-Type must be text/plain or "
			    "text/html; use --- text --- / --- "
			    "html --- parts and Herald-Attach "
			    "for more");
		}
		hd_buf_free(&b);
	}
	st = parse_body(t, e, body, text + len, body_line, single_html, err);
	if (st == HD_OK && fix_headers(t, e) != HD_OK)
		st = hd_error_set(err, HD_ENOMEM, t->path, 0, 0, NULL);
	return st;
}

/* ---- building ---- */

/* The RFC 5322 specials that could change an address list's structure. */
static int list_special(char c)
{
	switch (c) {
	case '(':
	case ')':
	case '<':
	case '>':
	case '[':
	case ']':
	case ':':
	case ';':
	case ',':
	case '\\':
	case '"':
		return 1;
	default:
		return 0;
	}
}

/*
 * Escaper for values in address headers (From, To, Cc, Bcc, Reply-To).  A
 * value that holds an RFC 5322 special which could change the list's
 * structure — a comma, angle brackets, a quote — is written as a quoted
 * string, so "x <victim@evil.example>, y" given as a name stays one display
 * name and can never add a recipient.  '@' and '.' are left alone: an
 * address value needs them, and in a display name they are harmless to the
 * parser.  Values meant for <{{email}}> that hold such specials become a
 * quoted string there and fail address validation: the row is invalid,
 * never redirected.
 */
static hd_status escape_address_value(hd_buf *out, const char *s, size_t n,
				      hd_error *err)
{
	const size_t len0 = out->len;
	hd_buf tmp = HD_BUF_INIT;
	const char *v;
	hd_status st;
	int quote = 0;
	size_t a = 0, b = n, m;

	/* white space around an address (a spreadsheet cell "ann@x.example
	 * ") means nothing: the address alone goes in */
	hd_address_trim(s, &a, &b);
	if ((a > 0 || b < n) && memchr(s + a, '@', b - a) &&
	    hd_address_check(s + a, b - a, NULL) == HD_OK) {
		s += a;
		n = b - a;
	}
	/* escaped in place; the rare value that must be quoted is copied
	 * aside and written again */
	st = hd_escape_header(out, s, n, err);
	if (st != HD_OK) {
		if (out->data) {
			out->len = len0;
			out->data[len0] = '\0';
		}
		return st;
	}
	v = out->data ? out->data + len0 : "";
	m = out->len - len0;
	for (size_t i = 0; !quote && i < m; i++)
		quote = list_special(v[i]);
	/* '@' stays bare only in a value that is an address */
	if (!quote && memchr(v, '@', m) &&
	    hd_address_check(v, m, NULL) != HD_OK)
		quote = 1;
	if (!quote)
		return HD_OK;
	st = hd_buf_append(&tmp, v, m);
	if (st == HD_OK) {
		out->len = len0;
		out->data[len0] = '\0';
		st = hd_buf_putc(out, '"');
	}
	for (size_t i = 0; st == HD_OK && i < tmp.len; i++) {
		if (tmp.data[i] == '"' || tmp.data[i] == '\\')
			st = hd_buf_putc(out, '\\');
		if (st == HD_OK)
			st = hd_buf_putc(out, tmp.data[i]);
	}
	if (st == HD_OK)
		st = hd_buf_putc(out, '"');
	hd_buf_free(&tmp);
	if (st != HD_OK && out->data) {
		out->len = len0;
		out->data[len0] = '\0';
	}
	return st;
}

/* Escaper for attachment paths and names: as is, but no control bytes. */
static hd_status escape_path(hd_buf *out, const char *s, size_t n,
			     hd_error *err)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return hd_error_set(err, HD_EINVAL, NULL, 0, 0,
					    "control character in a file name");
	return hd_escape_text(out, s, n, err);
}

static const struct {
	const char *ext;
	const char *type;
} mime_types[] = {
    {".pdf", "application/pdf"}, {".png", "image/png"},
    {".jpg", "image/jpeg"},	 {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},	 {".txt", "text/plain"},
    {".csv", "text/csv"},	 {".html", "text/html"},
    {".ics", "text/calendar"},	 {".json", "application/json"},
    {".zip", "application/zip"}, {".xml", "application/xml"},
};

static const char *mime_type_of(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]);
	     i++) {
		size_t m = strlen(mime_types[i].ext);
		if (n > m && strcasecmp(name + n - m, mime_types[i].ext) == 0)
			return mime_types[i].type;
	}
	return "application/octet-stream";
}

/* Reads the attachment at the rendered relative path rel, refusing any
 * path that leaves the template's folder (also through symlinks). */
static hd_status read_attachment(const hd_msgtmpl *t, const char *rel,
				 long line, hd_buf *data, hd_error *err)
{
	char joined[PATH_MAX], real[PATH_MAX];
	size_t dlen = strlen(t->dir);
	FILE *fp;
	int fd;
	struct stat st;
	char chunk[65536];
	size_t got;

	if (!rel[0] || rel[0] == '/' || strstr(rel, "..") ||
	    snprintf(joined, sizeof(joined), "%s/%s", t->dir, rel) >=
		(int)sizeof(joined))
		return hd_error_set(err, HD_EINVAL, t->path, line, 0,
				    "attachment path '%.200s' leaves the "
				    "template's folder",
				    rel);
	if (!realpath(joined, real))
		return hd_error_set(err, HD_EINVAL, t->path, line, 0,
				    "attachment '%.200s': %s", rel,
				    strerror(errno));
	if (strncmp(real, t->dir, dlen) != 0 ||
	    (real[dlen] != '/' && strcmp(t->dir, "/") != 0))
		return hd_error_set(err, HD_EINVAL, t->path, line, 0,
				    "attachment path '%.200s' leaves the "
				    "template's folder",
				    rel);
	if (hd__outputs_check(t->outputs, real, "an attachment", err) !=
	    HD_OK) {
		if (err)
			err->line = line;
		return HD_EUSAGE;
	}
	/* O_NONBLOCK: a FIFO (or a device) would otherwise block here until
	 * something writes, holding the row's check and the run with it; it
	 * is refused as not a regular file before anything is read */
	fd = open(real, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, 0) != 0 || !(fp = fdopen(fd, "rb"))) {
		if (fd >= 0)
			close(fd);
		return hd_error_set(err, HD_EINVAL, t->path, line, 0,
				    "attachment '%.200s' is not a readable "
				    "file",
				    rel);
	}
	if (st.st_size > ATTACH_MAX_BYTES) {
		fclose(fp);
		return hd_error_set(err, HD_ELIMIT, t->path, line, 0,
				    "attachment '%.200s' is over 25 MiB", rel);
	}
	while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (hd_buf_append(data, chunk, got) != HD_OK) {
			fclose(fp);
			return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		}
	fclose(fp);
	return HD_OK;
}

/* Appends s with every line ending made CRLF and a final CRLF. */
static hd_status append_crlf(hd_buf *out, const char *s, size_t n)
{
	const char *p = s, *end = s + n, *nl;

	/* a line at a time: the body is most of the message */
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t len = (size_t)(nl - p);
		int has_cr = nl > s && nl[-1] == '\r';

		if (hd_buf_reserve(out, len + 2) != HD_OK)
			return HD_ENOMEM;
		hd_buf_append(out, p, has_cr ? len - 1 : len);
		hd_buf_append(out, "\r\n", 2);
		p = nl + 1;
	}
	if (p < end || n == 0) {
		if (hd_buf_append(out, p, (size_t)(end - p)) != HD_OK)
			return HD_ENOMEM;
		return hd_buf_append(out, "\r\n", 2);
	}
	return HD_OK;
}

/* Whether s holds "=_hd_", how our boundaries begin: looked for at each
 * '=', which text seldom has (memmem showed in a profile of the build). */
static int has_boundary_start(const char *s, size_t n)
{
	const char *p = s, *end = s + n;

	while ((p = memchr(p, '=', (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) >= 5 && memcmp(p, "=_hd_", 5) == 0)
			return 1;
		p++;
	}
	return 0;
}

/* Writes a text part: its Content-Type and transfer encoding headers, the
 * blank line and the body, 7bit when it can be, else quoted-printable. */
static hd_status write_text_part(hd_buf *out, const char *subtype,
				 const hd_buf *body)
{
	const char *s = body->data ? body->data : "";
	int qp =
	    hd_needs_encoding(s, body->len) || has_boundary_start(s, body->len);
	hd_status st;

	st = hd_buf_puts(out, "Content-Type: text/");
	if (st == HD_OK)
		st = hd_buf_puts(out, subtype);
	if (st == HD_OK)
		st = hd_buf_puts(out, "; charset=utf-8\r\n"
				      "Content-Transfer-Encoding: ");
	if (st == HD_OK)
		st = hd_buf_puts(out, qp ? "quoted-printable\r\n\r\n"
					 : "7bit\r\n\r\n");
	if (st != HD_OK)
		return st;
	if (qp) {
		st = hd_qp_encode(out, s, body->len);
		if (st == HD_OK &&
		    (out->len < 2 ||
		     memcmp(out->data + out->len - 2, "\r\n", 2)))
			st = hd_buf_append(out, "\r\n", 2);
		return st;
	}
	return append_crlf(out, s, body->len);
}

struct rendered {
	hd_buf text, html;
	int has_text, has_html;
	hd_buf att_data[MAX_ATTACH];
	char *att_name[MAX_ATTACH];
	size_t na;
};

static void rendered_free(struct rendered *r)
{
	hd_buf_free(&r->text);
	hd_buf_free(&r->html);
	for (size_t i = 0; i < r->na; i++) {
		hd_buf_free(&r->att_data[i]);
		free(r->att_name[i]);
	}
}

/* The body after the headers.  checking: for a check that keeps no
 * message, the text parts are left out: they were rendered, and writing
 * them (7bit or quoted-printable, whichever fits) cannot fail. */
static hd_status write_body(hd_buf *out, const struct rendered *r,
			    const char *hash, int checking)
{
	char mixed[48], alt[48];
	hd_status st = HD_OK;
	int multi_alt = r->has_text && r->has_html;

	if (r->na || multi_alt) {
		snprintf(mixed, sizeof(mixed), "=_hd_%.16s_m", hash);
		snprintf(alt, sizeof(alt), "=_hd_%.16s_a", hash);
	}
	if (r->na) {
		st = hd_buf_printf(out,
				   "Content-Type: multipart/mixed; "
				   "boundary=\"%s\"\r\n\r\n"
				   "This is a multi-part message in MIME "
				   "format.\r\n\r\n--%s\r\n",
				   mixed, mixed);
	}
	if (st == HD_OK && multi_alt)
		st = hd_buf_printf(out,
				   "Content-Type: multipart/alternative; "
				   "boundary=\"%s\"\r\n\r\n%s--%s\r\n",
				   alt,
				   r->na ? ""
					 : "This is a multi-part message "
					   "in MIME format.\r\n\r\n",
				   alt);
	if (st == HD_OK && r->has_text && !checking)
		st = write_text_part(out, "plain", &r->text);
	if (st == HD_OK && multi_alt)
		st = hd_buf_printf(out, "--%s\r\n", alt);
	if (st == HD_OK && r->has_html && !checking)
		st = write_text_part(out, "html", &r->html);
	if (st == HD_OK && multi_alt)
		st = hd_buf_printf(out, "--%s--\r\n", alt);
	for (size_t i = 0; st == HD_OK && i < r->na; i++) {
		hd_buf v = HD_BUF_INIT;

		/* parameters go through hd_header_append so that a long
		 * (RFC 2231) file name is folded within 998 octets */
		st = hd_buf_printf(out, "--%s\r\n", mixed);
		if (st == HD_OK)
			st = hd_buf_puts(&v, mime_type_of(r->att_name[i]));
		if (st == HD_OK)
			st = hd_mime_param(&v, "name", r->att_name[i]);
		if (st == HD_OK)
			st = hd_header_append(out, "Content-Type", v.data,
					      v.len, 0);
		hd_buf_reset(&v);
		if (st == HD_OK)
			st = hd_buf_puts(&v, "attachment");
		if (st == HD_OK)
			st = hd_mime_param(&v, "filename", r->att_name[i]);
		if (st == HD_OK)
			st = hd_header_append(out, "Content-Disposition",
					      v.data, v.len, 0);
		hd_buf_free(&v);
		if (st == HD_OK)
			st = hd_buf_puts(out, "Content-Transfer-Encoding: "
					      "base64\r\n\r\n");
		if (st == HD_OK)
			st = hd_base64_encode(out, r->att_data[i].data,
					      r->att_data[i].len, 76);
	}
	if (st == HD_OK && r->na)
		st = hd_buf_printf(out, "--%s--\r\n", mixed);
	return st;
}

/* Room made for a buffer before a build fills it: a little over the
 * most this thread put in one, up to ROOM_MAX.  Growing buffers from
 * nothing, a few times each a message, showed in profiles of the build. */
#define ROOM_MAX (64u << 10)
static _Thread_local struct {
	size_t msg, text, html, val;
} room = {1024, 256, 256, 128};

static void room_note(size_t *r, size_t len)
{
	if (len >= *r && len < ROOM_MAX)
		*r = len + len / 8;
}

/* A body part, into a buffer made the size of the last one. */
static hd_status render_part(const hd_tmpl *part, hd_escape_fn esc, json_t *ctx,
			     long row, hd_buf *out, size_t *r, hd_error *err)
{
	hd_status st = hd_buf_reserve(out, *r);

	if (st == HD_OK)
		st = hd__part_render(part, ctx, esc, hd_escape_text, row, out,
				     err);
	room_note(r, out->len);
	return st;
}

static hd_status render_parts(const hd_msgtmpl *t, const struct eml *e,
			      json_t *ctx, long row, struct rendered *r,
			      hd_error *err)
{
	hd_status st = HD_OK;

	if (e->text) {
		r->has_text = 1;
		st = render_part(e->text, hd_escape_text, ctx, row, &r->text,
				 &room.text, err);
	}
	if (st == HD_OK && e->html) {
		r->has_html = 1;
		st = render_part(e->html, hd_escape_html, ctx, row, &r->html,
				 &room.html, err);
	}
	for (size_t i = 0; st == HD_OK && i < e->na; i++) {
		hd_buf path = HD_BUF_INIT, name = HD_BUF_INIT;
		const char *base;
		size_t k = r->na;

		st = hd__part_render(e->a[i].path, ctx, escape_path,
				     escape_path, row, &path, err);
		if (st == HD_OK)
			unfold(&path);
		if (st == HD_OK && blank(&path)) {
			/* "Herald-Attach: {{invoice?}}": none for this row */
			hd_buf_free(&path);
			continue;
		}
		r->na = k + 1;
		hd_buf_init(&r->att_data[k]);
		if (st == HD_OK)
			st =
			    read_attachment(t, path.data ? path.data : "",
					    e->a[i].line, &r->att_data[k], err);
		if (st == HD_OK && e->a[i].filename)
			st = hd__part_render(e->a[i].filename, ctx, escape_path,
					     escape_path, row, &name, err);
		if (st == HD_OK) {
			if (name.len) {
				r->att_name[k] = hd_buf_detach(&name, NULL);
			} else {
				base = strrchr(path.data, '/');
				r->att_name[k] =
				    strdup(base ? base + 1 : path.data);
			}
			if (!r->att_name[k])
				st = HD_ENOMEM;
		}
		hd_buf_free(&path);
		hd_buf_free(&name);
	}
	return st;
}

static hd_status push_rcpts(hd_message *out, const hd_mailbox *list, size_t n)
{
	char **grown =
	    realloc(out->email.rcpt, (out->email.nrcpt + n) * sizeof(char *));

	if (!grown)
		return HD_ENOMEM;
	out->email.rcpt = grown;
	for (size_t i = 0; i < n; i++) {
		grown[out->email.nrcpt] = strdup(list[i].addr);
		if (!grown[out->email.nrcpt])
			return HD_ENOMEM;
		out->email.nrcpt++;
	}
	return HD_OK;
}

/* The Date header's value (see hd__message_time), made once a second
 * by each thread: strftime showed in a profile of the build. */
static void date_header(char out[64])
{
	static _Thread_local long long made_for = -1;
	static _Thread_local char made[64];
	long long now = hd__message_time();

	if (now != made_for) {
		time_t t = (time_t)now;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(made, sizeof(made), "%a, %d %b %Y %H:%M:%S +0000",
			 &tm);
		made_for = now;
	}
	memcpy(out, made, sizeof(made));
}

/*
 * List-Unsubscribe (RFC 2369): a list of <URI>s, written as it is, never
 * folded: some receivers do not unfold it before they look for the URL,
 * and it is one of the two fields RFC 8058 has DKIM cover.  Tags in it
 * are percent-encoded (hd_escape_url), so data can neither end a URI nor
 * add one.  With an https URI in it, List-Unsubscribe-Post says that a
 * POST to that URI unsubscribes in one click (RFC 8058 section 3.1).
 */
static hd_status write_list_unsubscribe(hd_buf *msg, const char *v, size_t n,
					hd_error *err)
{
	static const char post[] =
	    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
	const char *end, *p;
	int https = 0;
	hd_status st;

	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	end = v + n;
	for (p = v; p < end; p++)
		if (*p < 0x20 || *p > 0x7e)
			return hd_error_set(err, HD_EHEADER, NULL, 0, 0,
					    "List-Unsubscribe holds a byte "
					    "that is not printable ASCII");
	for (p = v; p <= end && n;) {
		const char *comma = memchr(p, ',', (size_t)(end - p)), *q;
		const char *e = comma ? comma : end;
		while (p < e && *p == ' ')
			p++;
		q = e;
		while (q > p && q[-1] == ' ')
			q--;
		if (q - p < 3 || *p != '<' || q[-1] != '>' ||
		    memchr(p + 1, '<', (size_t)(q - p - 2)) ||
		    memchr(p + 1, '>', (size_t)(q - p - 2)))
			return hd_error_set(err, HD_EHEADER, NULL, 0, 0,
					    "List-Unsubscribe must be a list "
					    "of <URI>s separated by commas");
		if (q - p > 9 && strncasecmp(p + 1, "https://", 8) == 0)
			https = 1;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (n == 0)
		return hd_error_set(err, HD_EHEADER, NULL, 0, 0,
				    "List-Unsubscribe is empty");
	if (n + strlen("List-Unsubscribe: ") > LINE_MAX_OCTETS)
		return hd_error_set(err, HD_ELIMIT, NULL, 0, 0,
				    "List-Unsubscribe is longer than one "
				    "998-octet line, and it is never folded");
	st = hd_buf_puts(msg, "List-Unsubscribe: ");
	if (st == HD_OK)
		st = hd_buf_append(msg, v, n);
	if (st == HD_OK)
		st = hd_buf_append(msg, "\r\n", 2);
	if (st == HD_OK && https)
		st = hd_buf_append(msg, post, sizeof(post) - 1);
	return st;
}

/* Every line of a finished message must fit RFC 5322's 998 octets. */
static int lines_fit(const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end) {
		const char *lf = memchr(s, '\n', (size_t)(end - s));
		size_t run = (size_t)((lf ? lf : end) - s);

		if (run > LINE_MAX_OCTETS + 1) /* + the CR */
			return 0;
		if (!lf)
			break;
		s = lf + 1;
	}
	return 1;
}

/* A header value as rendered: the line breaks of the template's folded
 * lines come out (RFC 5322 2.2.3 unfolding).  No value can hold one:
 * every header escaper refuses CR and LF. */
static void unfold(hd_buf *val)
{
	size_t w = 0;

	for (size_t i = 0; i < val->len; i++)
		if (val->data[i] != '\n' && val->data[i] != '\r')
			val->data[w++] = val->data[i];
	val->len = w;
	if (val->data)
		val->data[w] = '\0';
}

/* 1 when the rendered value is nothing but blanks: the header is left
 * out ("Cc: {{manager?}}" for a row without a manager). */
static int blank(const hd_buf *val)
{
	for (size_t i = 0; i < val->len; i++)
		if (val->data[i] != ' ' && val->data[i] != '\t')
			return 0;
	return 1;
}

/* Renders a header that is not an address list into val, unfolded. */
static hd_status render_value(const struct eml_header *h, json_t *ctx, long row,
			      hd_buf *val, hd_error *err)
{
	hd_status st = hd__part_render(h->value, ctx,
				       h->kind == H_LISTU ? hd_escape_url
							  : hd_escape_header,
				       hd_escape_raw_header, row, val, err);

	if (st == HD_OK)
		unfold(val);
	return st;
}

/* Renders an address header into val and parses it; a blank one (left
 * out) gives no mailbox.  In address headers {{{raw}}} is quoted like
 * {{x}}: no opt-out may let data add a recipient. */
static hd_status render_addresses(const hd_msgtmpl *t,
				  const struct eml_header *h, json_t *ctx,
				  long row, hd_buf *val, hd_mailbox **list,
				  size_t *n, hd_error *err)
{
	hd_status st = hd__part_render(h->value, ctx, escape_address_value,
				       escape_address_value, row, val, err);

	*list = NULL;
	*n = 0;
	if (st != HD_OK)
		return st;
	unfold(val);
	if (blank(val))
		return HD_OK;
	st = hd_mailbox_list_parse(val->data ? val->data : "", val->len, list,
				   n, err);
	if (st != HD_OK) {
		hd_error_set_field(err, h->name);
		if (err) {
			err->line = h->line;
			snprintf(err->file, sizeof(err->file), "%s", t->path);
		}
	}
	return st;
}

/* Renders, parses and encodes once each header without tags (the same
 * for every row).  One that fails is left to be rendered per row, where
 * the error is reported with the row.  Fails only for want of memory. */
static hd_status fix_headers(const hd_msgtmpl *t, struct eml *e)
{
	hd_buf val = HD_BUF_INIT, line = HD_BUF_INIT;
	hd_status st = HD_OK;

	for (size_t i = 0; st == HD_OK && i < e->nh; i++) {
		struct eml_header *h = &e->h[i];
		int addr = h->kind == H_ADDRESS || h->kind == H_BCC;
		struct fixed_header *f;
		int ok;

		if ((!addr && h->kind != H_PLAIN) ||
		    !hd_tmpl_is_literal(h->value))
			continue;
		f = calloc(1, sizeof(*f));
		if (!f) {
			st = HD_ENOMEM;
			break;
		}
		hd_buf_reset(&val);
		hd_buf_reset(&line);
		if (addr)
			ok = render_addresses(t, h, NULL, 0, &val, &f->list,
					      &f->n, NULL) == HD_OK;
		else
			ok = render_value(h, NULL, 0, &val, NULL) == HD_OK;
		f->blank = blank(&val);
		if (ok && !f->blank && h->kind != H_BCC)
			ok = hd_header_append(&line, h->name,
					      val.data ? val.data : "", val.len,
					      h->kind == H_ADDRESS) == HD_OK;
		if (ok && line.len) {
			f->line = hd_buf_detach(&line, &f->len);
			ok = f->line != NULL;
		}
		if (ok)
			h->fixed = f;
		else
			fixed_free(f);
	}
	hd_buf_free(&val);
	hd_buf_free(&line);
	return st;
}

/* An address header's mailboxes for this row: the fixed ones, or rendered
 * (and then freed with drop_addresses). */
static hd_status row_addresses(const hd_msgtmpl *t, const struct eml_header *h,
			       json_t *ctx, long row, hd_buf *val,
			       hd_mailbox **list, size_t *n, hd_error *err)
{
	if (h->fixed) {
		*list = h->fixed->list;
		*n = h->fixed->n;
		return HD_OK;
	}
	return render_addresses(t, h, ctx, row, val, list, n, err);
}

static void drop_addresses(const struct eml_header *h, hd_mailbox *list,
			   size_t n)
{
	if (!h->fixed)
		hd_mailbox_list_free(list, n);
}

/* Appends list's addresses to a recipients text ("a@b.example, c@d"),
 * domains lower-cased (they are case-insensitive, RFC 5321 2.4). */
static hd_status put_recipients(hd_buf *out, const hd_mailbox *list, size_t n)
{
	hd_status st = HD_OK;

	for (size_t k = 0; st == HD_OK && k < n; k++) {
		const char *at = strrchr(list[k].addr, '@');
		size_t local = at ? (size_t)(at - list[k].addr) : 0;

		if (out->len)
			st = hd_buf_puts(out, ", ");
		if (st == HD_OK)
			st = hd_buf_append(out, list[k].addr, local);
		for (const char *p = list[k].addr + local; st == HD_OK && *p;
		     p++)
			st = hd_buf_putc(out, (char)(*p >= 'A' && *p <= 'Z'
							 ? *p - 'A' + 'a'
							 : *p));
	}
	return st;
}

hd_status hd__eml_recipients(const hd_msgtmpl *t, json_t *ctx, long row,
			     hd_buf *out, hd_error *err)
{
	const struct eml *e = t->impl;
	hd_buf val = HD_BUF_INIT;
	hd_status st = hd_buf_reserve(&val, room.val);

	for (size_t i = 0; st == HD_OK && i < e->nh; i++) {
		hd_mailbox *list;
		size_t n;

		if (!e->h[i].rcpt)
			continue;
		hd_buf_reset(&val);
		st = row_addresses(t, &e->h[i], ctx, row, &val, &list, &n, err);
		if (st == HD_OK)
			st = put_recipients(out, list, n);
		drop_addresses(&e->h[i], list, n);
	}
	hd_buf_free(&val);
	if (st == HD_OK && out->len == 0)
		st = hd_error_set(err, HD_EADDRESS, t->path, 0, 0,
				  "no recipient address");
	return st;
}

hd_status hd__eml_build(const hd_msgtmpl *t, json_t *ctx, const char *hash,
			long row, int checking, hd_buf *recipients,
			hd_message *out, hd_error *err)
{
	const struct eml *e = t->impl;
	hd_buf msg = HD_BUF_INIT, val = HD_BUF_INIT, orig = HD_BUF_INIT;
	struct rendered r;
	char date[64], *domain;
	hd_status st;

	memset(&r, 0, sizeof(r));
	out->kind = HD_MSG_EMAIL;
	date_header(date);
	st = hd_buf_reserve(&msg, room.msg);
	if (st == HD_OK)
		st = hd_buf_reserve(&val, room.val);
	if (st == HD_OK)
		st = hd_buf_puts(&msg, "Date: ");
	if (st == HD_OK)
		st = hd_buf_puts(&msg, date);
	if (st == HD_OK)
		st = hd_buf_puts(&msg, "\r\n");
	/* headers in template order; addresses collected for the envelope */
	for (size_t i = 0; st == HD_OK && i < e->nh; i++) {
		const struct eml_header *h = &e->h[i];
		hd_mailbox *list = NULL;
		size_t n = 0;
		int addr;

		hd_buf_reset(&val);
		addr = h->kind == H_ADDRESS || h->kind == H_BCC;
		if (addr)
			st =
			    row_addresses(t, h, ctx, row, &val, &list, &n, err);
		else if (!h->fixed)
			st = render_value(h, ctx, row, &val, err);
		if (st != HD_OK)
			break;
		room_note(&room.val, val.len);
		if ((h->fixed ? h->fixed->blank : blank(&val)) && !h->from)
			continue; /* an empty header is left out */
		if (addr) {
			if (h->from) {
				if (n != 1 || out->email.from) {
					drop_addresses(h, list, n);
					st =
					    hd_error_set(err, HD_EADDRESS,
							 t->path, h->line, 0,
							 "From: must hold "
							 "exactly one address");
					hd_error_set_field(err, "From");
					break;
				}
				out->email.from = strdup(list[0].addr);
				if (!out->email.from)
					st = HD_ENOMEM;
			} else if (h->rcpt) {
				st = push_rcpts(out, list, n);
				if (st == HD_OK && recipients)
					st =
					    put_recipients(recipients, list, n);
				for (size_t k = 0; st == HD_OK && k < n; k++) {
					if (orig.len)
						st = hd_buf_puts(&orig, ", ");
					if (st == HD_OK)
						st = hd_buf_puts(&orig,
								 list[k].addr);
				}
			}
		}
		if (st == HD_OK && h->kind == H_LISTU) {
			st = write_list_unsubscribe(
			    &msg, val.data ? val.data : "", val.len, err);
		} else if (st == HD_OK && h->fixed) {
			if (h->fixed->len)
				st = hd_buf_append(&msg, h->fixed->line,
						   h->fixed->len);
		} else if (st == HD_OK && h->kind != H_BCC &&
			   h->kind != H_CTYPE) {
			const char *v = val.data ? val.data : "";

			/* an address header's mailboxes as parsed above */
			st = h->kind == H_ADDRESS
				 ? hd_header_append_mailboxes(&msg, h->name, v,
							      val.len, list, n)
				 : hd_header_append(&msg, h->name, v, val.len,
						    0);
			if (st != HD_OK && st != HD_ENOMEM)
				hd_error_set(err, st, t->path, h->line, 0, "%s",
					     st == HD_ELIMIT
						 ? "a word is too long for a "
						   "998-octet line"
						 : hd_strerror(st));
		}
		if (addr)
			drop_addresses(h, list, n);
		if (st != HD_OK && err && !err->field[0]) {
			hd_error_set_field(err, h->name);
			err->line = h->line;
		}
	}
	if (st != HD_OK)
		goto out;
	if (out->email.nrcpt == 0) {
		st = hd_error_set(err, HD_EADDRESS, t->path, 0, 0,
				  "no recipient address");
		goto out;
	}
	domain = strrchr(out->email.from, '@');
	if (!domain)
		domain = "@herald";
	{
		/* "<hash@domain>", written without printf */
		size_t nh = strlen(hash), nd = strlen(domain);

		out->id = malloc(nh + nd + 3);
		if (!out->id) {
			st = HD_ENOMEM;
			goto out;
		}
		out->id[0] = '<';
		memcpy(out->id + 1, hash, nh);
		memcpy(out->id + 1 + nh, domain, nd);
		memcpy(out->id + 1 + nh + nd, ">", 2);
	}
	st = hd_buf_puts(&msg, "Message-ID: ");
	if (st == HD_OK)
		st = hd_buf_puts(&msg, out->id);
	if (st == HD_OK)
		st = hd_buf_puts(&msg, "\r\n");
	if (st == HD_OK && t->redirect) {
		/* every message goes to the test address; the intended
		 * recipients stay visible in X-Original-To */
		st = hd_header_append(&msg, "X-Original-To", orig.data,
				      orig.len, 0);
		for (size_t i = 0; i < out->email.nrcpt; i++)
			free(out->email.rcpt[i]);
		out->email.nrcpt = 0;
		if (st == HD_OK) {
			hd_mailbox redirect = {NULL, t->redirect};
			st = push_rcpts(out, &redirect, 1);
		}
	}
	if (st == HD_OK)
		st = hd_buf_puts(&msg, "MIME-Version: 1.0\r\n");
	if (st == HD_OK)
		st = render_parts(t, e, ctx, row, &r, err);
	if (st == HD_OK)
		st = write_body(&msg, &r, hash, checking);
	if (st == HD_OK && !lines_fit(msg.data, msg.len))
		st = hd_error_set(err, HD_ELIMIT, t->path, 0, 0,
				  "a line of the message is over 998 octets");
out:
	if (st == HD_ENOMEM && err && !err->msg[0])
		hd_error_set(err, HD_ENOMEM, t->path, 0, 0, NULL);
	rendered_free(&r);
	hd_buf_free(&val);
	hd_buf_free(&orig);
	if (st != HD_OK) {
		hd_buf_free(&msg);
		return st;
	}
	room_note(&room.msg, msg.len);
	out->email.data = hd_buf_detach(&msg, &out->email.len);
	return out->email.data ? HD_OK : HD_ENOMEM;
}

void hd__eml_walk(const hd_msgtmpl *t, hd_tmpl_walk_fn fn, void *ctx)
{
	const struct eml *e = t->impl;

	for (size_t i = 0; i < e->nh; i++)
		hd_tmpl_walk(e->h[i].value, fn, ctx);
	for (size_t i = 0; i < e->na; i++) {
		hd_tmpl_walk(e->a[i].path, fn, ctx);
		hd_tmpl_walk(e->a[i].filename, fn, ctx);
	}
	hd_tmpl_walk(e->text, fn, ctx);
	hd_tmpl_walk(e->html, fn, ctx);
}

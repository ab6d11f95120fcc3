/*
 * fuzz_message.c — the .eml and .http template loaders and message
 * building for hostile records (lib/message.c, message_eml.c,
 * message_http.c, with encode.c, escape.c and address.c below them).
 *
 * Input: a flags byte, then parts split at NUL bytes:
 *   part 0     the template file
 *   part 1     the record, a JSON object (when it is not one, a built-in
 *              record of hostile values: line breaks, address specials,
 *              paths out of the folder, dot segments, markup)
 *   part 2..4  files p0, p1, p2 beside the template (partials)
 * flags bit 0: .http (else .eml); bit 1: --redirect; bit 2: --env
 * FUZZ_TOKEN and FUZZ_PLAIN (FUZZ_TOKEN holds a CRLF and a header).
 *
 * The template's folder holds a.txt, files/doc.pdf, a symlink link-out
 * to a file outside it, and files/abs, a symlink to that file's absolute
 * path; the outside file's text must never be in a message.
 *
 * Promises checked:
 *   - loading and building fail only with documented codes, as one
 *     printable line, and leave no half-built message;
 *   - an email has one valid envelope sender and 1..n valid recipients
 *     (exactly the redirect address when redirected); its bytes are CRLF
 *     lines within 998 octets, no NUL; its header block is 7-bit
 *     "Name: value" lines and folds, with no Bcc and exactly one Date,
 *     Message-ID and MIME-Version;
 *   - a request has an upper-case method, an http(s) URL without blanks
 *     or controls (the redirect URL when redirected), header names that
 *     are tokens and values without CR, LF or NUL;
 *   - nothing from outside the template's folder is attached (an
 *     attachment part holding the outside file's base64);
 *   - the same record builds the same bytes twice.
 */
#define _GNU_SOURCE /* memmem */
#include "address.h"
#include "fuzz.h"
#include "message.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "HERALD-FUZZ-OUTSIDE-SECRET\n"
#define SECRET_B64 "SEVSQUxELUZVWlotT1VUU0lERS1TRUNSRVQK"
#define REDIRECT_EML "qa@test.example"
#define REDIRECT_HTTP "https://qa.test.example/hook"

static const char hostile[] =
    "{\"name\": \"Ann <victim@evil.example>, x\", \"email\": "
    "\"ann@example.com\", \"subject\": \"s\\r\\nBcc: victim@evil.example\", "
    "\"doc\": \"../secret.txt\", \"link\": \"link-out\", \"v\": \"..\", "
    "\"html\": \"<script>x</script>\", \"list\": [\"a@b.example\", "
    "\"c@d.example\"], \"n\": 5, \"e\": \"\", \"p\": \"p0\", \"u\": "
    "\"Zo\\u00eb \\ud83c\\udf89\", \"abs\": \"/etc/passwd\"}";

static char root[PATH_MAX];

static void setup(void)
{
	char secret[PATH_MAX], link[PATH_MAX];

	if (root[0])
		return;
	snprintf(root, sizeof(root), "%s/root", fuzz_tmpdir());
	snprintf(link, sizeof(link), "%s/files", root);
	if (mkdir(root, 0700) != 0 || mkdir(link, 0700) != 0)
		fuzz_fail("cannot make %s", root);
	fuzz_write(root, "a.txt", "attached\n", 9);
	fuzz_write(link, "doc.pdf", "%PDF-1.4\n", 9);
	snprintf(secret, sizeof(secret), "%s",
		 fuzz_write(NULL, "secret.txt", SECRET, strlen(SECRET)));
	snprintf(link, sizeof(link), "%s/link-out", root);
	if (symlink("../secret.txt", link) != 0)
		fuzz_fail("cannot make %s", link);
	snprintf(link, sizeof(link), "%s/files/abs", root);
	if (symlink(secret, link) != 0)
		fuzz_fail("cannot make %s", link);
	setenv("SOURCE_DATE_EPOCH", "1795787110", 1);
	setenv("FUZZ_TOKEN", "tok\r\nX-Injected: 1", 1);
	setenv("FUZZ_PLAIN", "plain value", 1);
}

static int has(const char *p, size_t n, const char *s)
{
	return memmem(p, n, s, strlen(s)) != NULL;
}

static void check_email(const hd_email *e, int redirect)
{
	const char *p = e->data, *end = e->data + e->len;
	int date = 0, mid = 0, mime = 0, in_headers = 1;

	FUZZ_ASSERT(e->from && hd_address_check(e->from, strlen(e->from),
						NULL) == HD_OK,
		    "envelope sender '%s'", e->from ? e->from : "(none)");
	FUZZ_ASSERT(e->nrcpt > 0 && (!redirect || e->nrcpt == 1),
		    "%zu envelope recipients", e->nrcpt);
	for (size_t i = 0; i < e->nrcpt; i++)
		FUZZ_ASSERT(
		    hd_address_check(e->rcpt[i], strlen(e->rcpt[i]), NULL) ==
			    HD_OK &&
			(!redirect || strcmp(e->rcpt[i], REDIRECT_EML) == 0),
		    "envelope recipient '%s'", e->rcpt[i]);
	FUZZ_ASSERT(!memchr(e->data, 0, e->len), "a NUL in the message");
	/* an attachment part whose body is the outside file: a template
	 * cannot write this itself, since a body holding "=_hd_" is
	 * quoted-printable ("=3D_hd_") */
	FUZZ_ASSERT(!has(e->data, e->len, "\r\n\r\n" SECRET_B64 "\r\n--=_hd_"),
		    "the file outside the folder is attached");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		FUZZ_ASSERT(nl && nl > p - 1 && nl[-1] == '\r',
			    "a line not ended by CRLF at byte %zu",
			    (size_t)(p - e->data));
		n = (size_t)(nl - 1 - p);
		FUZZ_ASSERT(n <= 998, "a line of %zu octets", n);
		FUZZ_ASSERT(!memchr(p, '\r', n), "a bare CR at byte %zu",
			    (size_t)(p - e->data));
		if (in_headers && n == 0) {
			in_headers = 0;
		} else if (in_headers) {
			const char *colon = memchr(p, ':', n);
			for (size_t i = 0; i < n; i++)
				FUZZ_ASSERT((unsigned char)p[i] < 0x80 &&
						((unsigned char)p[i] >= 0x20 ||
						 p[i] == '\t'),
					    "byte 0x%02x in a header",
					    (unsigned char)p[i]);
			if (p[0] != ' ' && p[0] != '\t') {
				FUZZ_ASSERT(colon && colon > p,
					    "a header line without a name: "
					    "'%.*s'",
					    (int)n, p);
				for (const char *q = p; q < colon; q++)
					FUZZ_ASSERT(*q > ' ',
						    "a blank in a header name");
				FUZZ_ASSERT(strncasecmp(p, "Bcc:", 4) != 0,
					    "a Bcc header was written");
				date += strncmp(p, "Date: ", 6) == 0;
				mid += strncmp(p, "Message-ID: ", 12) == 0;
				mime += strncmp(p, "MIME-Version: ", 14) == 0;
			}
		}
		p = nl + 1;
	}
	FUZZ_ASSERT(!in_headers, "no blank line after the headers");
	FUZZ_ASSERT(date == 1 && mid == 1 && mime == 1,
		    "%d Date, %d Message-ID, %d MIME-Version", date, mid, mime);
}

static void check_request(const hd_request *r, int redirect)
{
	FUZZ_ASSERT(r->method && r->method[0], "no method");
	for (const char *q = r->method; *q; q++)
		FUZZ_ASSERT(*q >= 'A' && *q <= 'Z', "method '%s'", r->method);
	FUZZ_ASSERT(r->url && (strncasecmp(r->url, "http://", 7) == 0 ||
			       strncasecmp(r->url, "https://", 8) == 0),
		    "URL '%s'", r->url ? r->url : "(none)");
	for (const unsigned char *q = (const unsigned char *)r->url; *q; q++)
		FUZZ_ASSERT(*q > ' ' && *q != 0x7f,
			    "byte 0x%02x in the URL '%s'", *q, r->url);
	FUZZ_ASSERT(!redirect || strcmp(r->url, REDIRECT_HTTP) == 0,
		    "a redirected request to '%s'", r->url);
	for (size_t i = 0; i < r->nheaders; i++) {
		const hd_header *h = &r->headers[i];
		FUZZ_ASSERT(h->name[0], "an empty header name");
		for (const unsigned char *q = (const unsigned char *)h->name;
		     *q; q++)
			FUZZ_ASSERT(*q > ' ' && *q < 0x7f && *q != ':',
				    "header name '%s'", h->name);
		FUZZ_ASSERT(!strpbrk(h->value, "\r\n"),
			    "a line break in header %s", h->name);
	}
}

static int same(const hd_message *a, const hd_message *b)
{
	if (a->kind == HD_MSG_EMAIL)
		return a->email.len == b->email.len &&
		       !memcmp(a->email.data, b->email.data, a->email.len);
	return !strcmp(a->http.url, b->http.url) &&
	       a->http.nheaders == b->http.nheaders &&
	       a->http.body_len == b->http.body_len &&
	       (!a->http.body_len ||
		!memcmp(a->http.body, b->http.body, a->http.body_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* ENOENT: a partial that is a folder ({{>files/}}) or unreadable */
	static const hd_status load_codes[] = {HD_ETEMPLATE, HD_ELIMIT,
					       HD_EUTF8, HD_ENOENT};
	static const hd_status usage_codes[] = {HD_EUSAGE};
	/* HD_EPARSE: a .http JSON body that is not JSON once rendered */
	static const hd_status build_codes[] = {
	    HD_EMISSING, HD_EINVAL, HD_EADDRESS,  HD_EUTF8,
	    HD_EHEADER,	 HD_ELIMIT, HD_ETEMPLATE, HD_EPARSE};
	static const char *const env[] = {"FUZZ_TOKEN", "FUZZ_PLAIN"};
	const uint8_t *text, *rest = NULL, *part, *next;
	size_t tlen, rlen = 0, plen, nlen;
	unsigned flags;
	int http, redirect;
	char name[PATH_MAX];
	hd_msgtmpl_opts o = {0};
	hd_msgtmpl *t = NULL;
	json_t *record = NULL;
	hd_message m1, m2;
	hd_error err;
	hd_status rc;
	const char *path;

	if (size == 0)
		return 0;
	setup();
	flags = data[0];
	http = flags & 1;
	redirect = (flags & 2) != 0;
	fuzz_split(data + 1, size - 1, &text, &tlen, &rest, &rlen);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s/p%d", root, i);
		unlink(name);
	}
	if (rest) {
		fuzz_split(rest, rlen, &part, &plen, &next, &nlen);
		record = json_loadb((const char *)part, plen, 0, NULL);
		for (int i = 0; i < 3 && next; i++) {
			fuzz_split(next, nlen, &part, &plen, &next, &nlen);
			snprintf(name, sizeof(name), "p%d", i);
			fuzz_write(root, name, part, plen);
		}
	}
	if (!json_is_object(record)) {
		json_decref(record);
		record = json_loads(hostile, 0, NULL);
	}
	FUZZ_ASSERT(record != NULL, "the built-in record does not parse");
	path = fuzz_write(root, http ? "t.http" : "t.eml", text, tlen);
	if (redirect)
		o.redirect = http ? REDIRECT_HTTP : REDIRECT_EML;
	if (flags & 4) {
		o.env_names = env;
		o.n_env = 2;
	}
	rc = hd_msgtmpl_load(path, &o, &t, &err);
	if (rc != HD_OK) {
		/* a template using {{unsubscribe.token}} without a secret
		 * is a usage error, said once at load */
		if (rc == HD_EUSAGE &&
		    memmem(text, tlen, "unsubscribe.token", 17) != NULL)
			FUZZ_CHECK_FAILURE(&err, rc, "load", usage_codes);
		else
			FUZZ_CHECK_FAILURE(&err, rc, "load", load_codes);
		goto out;
	}
	hd_error_clear(&err);
	rc = hd_msgtmpl_build(t, record, "fuzz", "ann@example.com", 3, &m1,
			      &err);
	if (rc != HD_OK) {
		FUZZ_CHECK_FAILURE(&err, rc, "build", build_codes);
		FUZZ_ASSERT(!m1.email.data && !m1.http.url,
			    "a failed build left a message");
		goto out;
	}
	if (m1.kind == HD_MSG_EMAIL)
		check_email(&m1.email, redirect);
	else
		check_request(&m1.http, redirect);
	rc = hd_msgtmpl_build(t, record, "fuzz", "ann@example.com", 3, &m2,
			      NULL);
	FUZZ_ASSERT(rc == HD_OK && same(&m1, &m2),
		    "the same record built twice differs");
	hd_message_clear(&m1);
	hd_message_clear(&m2);
out:
	hd_msgtmpl_free(t);
	json_decref(record);
	return 0;
}

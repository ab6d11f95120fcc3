/*
 * fuzz_url.c — the URL checks: percent-encoding of URL parts and form
 * fields (lib/escape.c), raw URL values and the dot-segment check
 * (lib/message_http.c), through the .http builder as herald uses them.
 *
 * Input: a shape byte (which template, below), then the value of {{v}}:
 * any bytes, NUL and invalid UTF-8 included.
 *
 * Promises checked, with libcurl's own URL parser as the judge of what
 * the URL means (the transport hands it to libcurl):
 *   - hd_escape_url writes only unreserved bytes and %XX, and decodes back
 *     to the value; hd_escape_form the same with '+' for a space;
 *   - a value in a path segment or the query stays in it: the host, port,
 *     user, path and query are the template's with the value encoded in
 *     its place, and nothing is resolved away (no "." or ".." segment);
 *   - a value in the host never makes userinfo, a port or a path, and is
 *     refused unless it is unreserved bytes only (libcurl decodes %XX in
 *     a host name);
 *   - a raw value ({{{v}}}) never adds white space or controls, never
 *     changes the host and is never resolved away;
 *   - a form body keeps the template's fields.
 */
#include "escape.h"
#include "fuzz.h"
#include "message.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const shapes[] = {
    "GET https://api.example/v1/users/{{v}}/notes?q={{v}}&page=2\n\n",
    "POST https://{{v}}.hooks.example/x\n\n",
    "GET https://api.example/raw/{{{v}}}\n\n",
    "GET https://api.example:8443/{{v}}\n\n",
    ("POST https://api.example/f\nContent-Type: "
     "application/x-www-form-urlencoded\n\na={{v}}&b=fixed"),
    "GET https://api.example/{{v}}\n\n",
};
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

static hd_msgtmpl *tmpl[NSHAPES];

static void setup(void)
{
	char name[16];
	hd_error err;

	if (tmpl[0])
		return;
	for (size_t i = 0; i < NSHAPES; i++) {
		snprintf(name, sizeof(name), "url%zu.http", i);
		if (hd_msgtmpl_load(
			fuzz_write(NULL, name, shapes[i], strlen(shapes[i])),
			NULL, &tmpl[i], &err) != HD_OK)
			fuzz_fail("shape %zu: %s", i, err.msg);
	}
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* Checks that enc only holds unreserved bytes, %XX (and '+' in form
 * mode) and decodes back to v[0..n). */
static void check_encoding(const char *enc, size_t elen, const char *v,
			   size_t n, int form)
{
	size_t o = 0;

	for (size_t i = 0; i < elen; o++) {
		char c = enc[i];
		int d;

		if (c == '%') {
			FUZZ_ASSERT(i + 2 < elen + 1 &&
					hexval(enc[i + 1]) >= 0 &&
					hexval(enc[i + 2]) >= 0,
				    "a bad escape in '%.*s'", (int)elen, enc);
			d = hexval(enc[i + 1]) * 16 + hexval(enc[i + 2]);
			i += 3;
		} else if (form && c == '+') {
			d = ' ';
			i++;
		} else {
			FUZZ_ASSERT(
			    strchr("-._~", c) || (c >= '0' && c <= '9') ||
				(c >= 'a' && c <= 'z') ||
				(c >= 'A' && c <= 'Z'),
			    "'%c' left as it is in '%.*s'", c, (int)elen, enc);
			d = (unsigned char)c;
			i++;
		}
		FUZZ_ASSERT(o < n && (unsigned char)v[o] == d,
			    "'%.*s' does not decode to the value", (int)elen,
			    enc);
	}
	FUZZ_ASSERT(o == n, "'%.*s' decodes to %zu bytes, not %zu", (int)elen,
		    enc, o, n);
}

/* libcurl's reading of url; NULL parts are absent. */
struct parts {
	char *host, *port, *user, *path, *query, *fragment;
};

static int parse(const char *url, struct parts *p)
{
	CURLU *u = curl_url();
	int ok;

	memset(p, 0, sizeof(*p));
	if (!u)
		fuzz_fail("out of memory");
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK;
	if (ok) {
		curl_url_get(u, CURLUPART_HOST, &p->host, 0);
		curl_url_get(u, CURLUPART_PORT, &p->port, 0);
		curl_url_get(u, CURLUPART_USER, &p->user, 0);
		curl_url_get(u, CURLUPART_PATH, &p->path, 0);
		curl_url_get(u, CURLUPART_QUERY, &p->query, 0);
		curl_url_get(u, CURLUPART_FRAGMENT, &p->fragment, 0);
	}
	curl_url_cleanup(u);
	return ok;
}

static void parts_free(struct parts *p)
{
	curl_free(p->host);
	curl_free(p->port);
	curl_free(p->user);
	curl_free(p->path);
	curl_free(p->query);
	curl_free(p->fragment);
}

static int eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_url(size_t shape, const char *url, const char *enc)
{
	struct parts p;
	hd_buf want = HD_BUF_INIT;
	const char *lit;
	int ok = parse(url, &p);

	switch (shape) {
	case 0:
	case 3:
	case 5:
		FUZZ_ASSERT(ok, "libcurl cannot parse '%s'", url);
		FUZZ_ASSERT(
		    eq(p.host, "api.example") && !p.user &&
			eq(p.port, shape == 3 ? "8443" : NULL) && !p.fragment,
		    "'%s' goes to host %s port %s", url, p.host, p.port);
		hd_buf_printf(&want, shape == 0 ? "/v1/users/%s/notes" : "/%s",
			      enc);
		FUZZ_ASSERT(eq(p.path, want.data), "'%s' has path %s, not %s",
			    url, p.path, want.data);
		if (shape == 0) {
			hd_buf_reset(&want);
			hd_buf_printf(&want, "q=%s&page=2", enc);
			FUZZ_ASSERT(eq(p.query, want.data),
				    "'%s' has query %s, not %s", url, p.query,
				    want.data);
		} else {
			FUZZ_ASSERT(!p.query, "'%s' has a query", url);
		}
		break;
	case 1:
		if (!ok)
			break; /* the transport refuses the row */
		FUZZ_ASSERT(p.host && strlen(p.host) > 14 &&
				!strcmp(p.host + strlen(p.host) - 14,
					".hooks.example") &&
				!p.user && !p.port && eq(p.path, "/x") &&
				!p.query && !p.fragment,
			    "'%s' became host %s path %s", url, p.host, p.path);
		break;
	case 2:
		if (!ok)
			break;
		lit = url + strlen("https://api.example");
		FUZZ_ASSERT(eq(p.host, "api.example") && !p.user && !p.port,
			    "raw '%s' goes to host %s", url, p.host);
		hd_buf_append(&want, lit, strcspn(lit, "?#"));
		FUZZ_ASSERT(eq(p.path, want.data), "raw '%s' resolved to %s",
			    url, p.path);
		break;
	}
	hd_buf_free(&want);
	parts_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const hd_status codes[] = {HD_EINVAL, HD_EUTF8, HD_EHEADER,
					  HD_EMISSING};
	const char *v = (const char *)data + 1;
	size_t n = size ? size - 1 : 0, shape;
	hd_buf url = HD_BUF_INIT, form = HD_BUF_INIT, body = HD_BUF_INIT;
	json_t *rec;
	hd_message m;
	hd_error err;
	hd_status rc;

	if (size == 0 || n > 2000)
		return 0;
	setup();
	shape = data[0] % NSHAPES;
	if (hd_escape_url(&url, v, n, NULL) != HD_OK ||
	    hd_escape_form(&form, v, n, NULL) != HD_OK)
		fuzz_fail("an escaper failed");
	check_encoding(url.data ? url.data : "", url.len, v, n, 0);
	check_encoding(form.data ? form.data : "", form.len, v, n, 1);

	rec = json_object();
	if (!rec || json_object_set_new(rec, "v", json_stringn_nocheck(v, n)))
		fuzz_fail("out of memory");
	rc = hd_msgtmpl_build(tmpl[shape], rec, "fuzz", "k", 1, &m, &err);
	if (rc != HD_OK) {
		FUZZ_CHECK_FAILURE(&err, rc, "build", codes);
		FUZZ_ASSERT((rc == HD_EMISSING && n == 0) ||
				(rc != HD_EMISSING &&
				 (shape == 2 || (shape == 1 && url.len != n) ||
				  (n == 1 && v[0] == '.') ||
				  (n == 2 && v[0] == '.' && v[1] == '.'))),
			    "shape %zu refused '%.*s': %s", shape, (int)n, v,
			    err.msg);
		goto out;
	}
	for (const unsigned char *q = (const unsigned char *)m.http.url; *q;
	     q++)
		FUZZ_ASSERT(*q > ' ' && *q != 0x7f, "byte 0x%02x in '%s'", *q,
			    m.http.url);
	if (shape == 4) {
		hd_buf_printf(&body, "a=%s&b=fixed",
			      form.data ? form.data : "");
		FUZZ_ASSERT(m.http.body_len == body.len &&
				!memcmp(m.http.body, body.data, body.len),
			    "form body '%.*s'", (int)m.http.body_len,
			    m.http.body);
	} else {
		check_url(shape, m.http.url, url.data ? url.data : "");
	}
	hd_message_clear(&m);
out:
	json_decref(rec);
	hd_buf_free(&url);
	hd_buf_free(&form);
	hd_buf_free(&body);
	return 0;
}

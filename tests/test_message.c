/* test_message.c — building .eml and .http messages from templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "message.h"
#include "unsub.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *write_file(const char *name, const char *text)
{
	return tmpdir_write(name, text, strlen(text), 0644);
}

static hd_msgtmpl *load(const char *name, const char *text,
			const hd_msgtmpl_opts *o, hd_status want, hd_error *e)
{
	hd_msgtmpl *t = NULL;
	hd_status st = hd_msgtmpl_load(write_file(name, text), o, &t, e);

	assert_int_equal(st, want);
	return t;
}

static hd_status build(hd_msgtmpl *t, const char *json, const char *key,
		       hd_message *m, hd_error *e)
{
	json_t *rec = json_loads(json, 0, NULL);
	hd_status st;

	assert_non_null(rec);
	hd_error_clear(e);
	st = hd_msgtmpl_build(t, rec, "camp", key, 7, m, e);
	json_decref(rec);
	return st;
}

static const char eml[] = "From: Acme <noreply@acme.example>\n"
			  "To: {{name}} <{{email}}>\n"
			  "Cc: audit@acme.example\n"
			  "Bcc: archive@acme.example\n"
			  "Subject: Hello {{name}}\n"
			  "\n"
			  "Hi {{name}},\n"
			  "bye\n";

/* Headers without tags are rendered once, at load.  The same template with
 * a tag that renders nothing at the end of each header (so that every one
 * is rendered per row) must give the same bytes and the same envelope, row
 * after row, and the same errors. */
static void eml_headers_without_tags_as_rendered_per_row(void **state)
{
	static const char *const heads[] = {
	    "From: \"Acme, Billing\" <billing@acme.example>",
	    "To: {{name}} <{{email}}>",
	    "Cc: Fixed Person <fixed@example.org>, Zo\xc3\xab "
	    "<zoe@example.org>",
	    "Bcc: audit@example.net",
	    "Subject: \xc3\x9cn\xc3\xaf"
	    "code and a subject long enough to be "
	    "folded over more than one line of the header, twice over, "
	    "since it goes on and on",
	    "X-Blank: {{! nothing }}",
	    "Reply-To: Acme Support <support@acme.example>",
	};
	static const char *const rows[] = {
	    "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}",
	    "{\"name\":\"Bo\",\"email\":\"bo@y.example\"}",
	};
	char fixed[2048] = "", per_row[2048] = "";
	hd_msgtmpl *a, *b;
	hd_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		strcat(fixed, heads[i]);
		strcat(fixed, "\n");
		strcat(per_row, heads[i]);
		strcat(per_row, "{{nothing?}}\n");
	}
	strcat(fixed, "\nHi {{name}}\n");
	strcat(per_row, "\nHi {{name}}\n");
	a = load("fixed.eml", fixed, NULL, HD_OK, &e);
	b = load("per-row.eml", per_row, NULL, HD_OK, &e);
	for (size_t r = 0; r < 2; r++) {
		hd_message ma, mb;
		const char *ha, *hb;

		assert_int_equal(build(a, rows[r], "k", &ma, &e), HD_OK);
		assert_int_equal(build(b, rows[r], "k", &mb, &e), HD_OK);
		assert_string_equal(ma.email.from, mb.email.from);
		assert_int_equal(ma.email.nrcpt, 4);
		assert_int_equal(mb.email.nrcpt, 4);
		for (size_t k = 0; k < 4; k++)
			assert_string_equal(ma.email.rcpt[k], mb.email.rcpt[k]);
		/* after the Date line, which may have ticked */
		ha = strstr(ma.email.data, "\r\n");
		hb = strstr(mb.email.data, "\r\n");
		assert_non_null(ha);
		assert_non_null(hb);
		assert_string_equal(ha, hb);
		assert_non_null(
		    strstr(ha, "\r\nCc: Fixed Person <fixed@example.org>,"));
		assert_null(strstr(ha, "X-Blank"));
		assert_null(strstr(ha, "audit@"));
		hd_message_clear(&ma);
		hd_message_clear(&mb);
	}
	hd_msgtmpl_free(a);
	hd_msgtmpl_free(b);

	/* a From: without tags that is wrong is wrong for each row, with the
	 * row, the field and the template's line */
	a = load(
	    "from2.eml",
	    "Subject: x\nFrom: a@b.example, c@d.example\nTo: {{email}}\n\nx\n",
	    NULL, HD_OK, &e);
	{
		hd_message m;
		assert_int_equal(build(a, rows[1], "k", &m, &e), HD_EADDRESS);
		assert_string_equal(e.field, "From");
		assert_int_equal(e.line, 2);
		assert_non_null(strstr(e.msg, "exactly one address"));
		hd_message_clear(&m);
	}
	hd_msgtmpl_free(a);
}

static void eml_envelope_headers_and_bcc(void **state)
{
	hd_error e;
	hd_message m;
	hd_msgtmpl *t = load("a.eml", eml, NULL, HD_OK, &e);
	const char *d;

	(void)state;
	assert_int_equal(hd_msgtmpl_kind(t), HD_MSG_EMAIL);
	assert_int_equal(build(t,
			       "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}",
			       "ann@x.example", &m, &e),
			 HD_OK);
	assert_string_equal(m.email.from, "noreply@acme.example");
	assert_int_equal(m.email.nrcpt, 3);
	assert_string_equal(m.email.rcpt[0], "ann@x.example");
	assert_string_equal(m.email.rcpt[1], "audit@acme.example");
	assert_string_equal(m.email.rcpt[2], "archive@acme.example");
	d = m.email.data;
	assert_true(strncmp(d, "Date: ", 6) == 0);
	assert_non_null(strstr(d, "\r\nTo: Ann <ann@x.example>\r\n"));
	assert_non_null(strstr(d, "\r\nSubject: Hello Ann\r\n"));
	assert_null(strstr(d, "Bcc"));
	assert_null(strstr(d, "archive@"));
	assert_non_null(strstr(d, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(d, "\r\n\r\nHi Ann,\r\nbye\r\n"));
	assert_int_equal(d[m.email.len - 1], '\n');
	/* the Message-ID is stable for (campaign, key) and uses From's domain
	 */
	assert_true(strlen(m.id) == 34 + strlen("@acme.example"));
	assert_non_null(strstr(m.id, "@acme.example>"));
	{
		hd_message m2;
		assert_int_equal(
		    build(t, "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}",
			  "ann@x.example", &m2, &e),
		    HD_OK);
		assert_string_equal(m.id, m2.id);
		hd_message_clear(&m2);
		assert_int_equal(
		    build(t, "{\"name\":\"Bo\",\"email\":\"bo@x.example\"}",
			  "bo@x.example", &m2, &e),
		    HD_OK);
		assert_string_not_equal(m.id, m2.id);
		hd_message_clear(&m2);
	}
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
}

/* The Date header follows the clock from one message to the next (the
 * text of a second is remembered between messages), in RFC 5322's form. */
static void eml_date_follows_the_clock(void **state)
{
	static const struct {
		const char *epoch, *want;
	} cases[] = {
	    {"1796634000", "Date: Mon, 07 Dec 2026 09:00:00 +0000\r\n"},
	    {"1796634000", "Date: Mon, 07 Dec 2026 09:00:00 +0000\r\n"},
	    {"1796634061", "Date: Mon, 07 Dec 2026 09:01:01 +0000\r\n"},
	    {"946684799", "Date: Fri, 31 Dec 1999 23:59:59 +0000\r\n"},
	    {"1796634000", "Date: Mon, 07 Dec 2026 09:00:00 +0000\r\n"},
	};
	const char *was = getenv("SOURCE_DATE_EPOCH");
	char *saved = was ? strdup(was) : NULL;
	hd_error e;
	hd_msgtmpl *t = load("d.eml", eml, NULL, HD_OK, &e);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hd_message m;

		setenv("SOURCE_DATE_EPOCH", cases[i].epoch, 1);
		assert_int_equal(
		    build(t, "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}",
			  "ann@x.example", &m, &e),
		    HD_OK);
		assert_true(strncmp(m.email.data, cases[i].want,
				    strlen(cases[i].want)) == 0);
		hd_message_clear(&m);
	}
	if (saved)
		setenv("SOURCE_DATE_EPOCH", saved, 1);
	else
		unsetenv("SOURCE_DATE_EPOCH");
	free(saved);
	hd_msgtmpl_free(t);
}

/* The check leaves the text bodies unencoded, never unrendered: a tag
 * only the body or only the HTML part has is still found missing, and a
 * row that builds checks. */
static void eml_check_renders_every_part(void **state)
{
	static const char *const texts[] = {
	    "From: a@acme.example\nTo: {{email}}\nSubject: s\n\n"
	    "Hi {{name}}\n",
	    "From: a@acme.example\nTo: {{email}}\nSubject: s\n"
	    "Content-Type: text/html\n\n<p>Hi {{name}}</p>\n",
	};
	hd_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		hd_msgtmpl *t =
		    load(i ? "c1.eml" : "c0.eml", texts[i], NULL, HD_OK, &e);
		json_t *good = json_loads(
		    "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}", 0, NULL);
		json_t *bad =
		    json_loads("{\"email\":\"ann@x.example\"}", 0, NULL);
		hd_message m;

		assert_int_equal(hd_msgtmpl_check(t, good, "c", "k", 1, &e),
				 HD_OK);
		assert_int_equal(hd_msgtmpl_build(t, good, "c", "k", 1, &m, &e),
				 HD_OK);
		hd_message_clear(&m);
		assert_int_equal(hd_msgtmpl_check(t, bad, "c", "k", 2, &e),
				 HD_EMISSING);
		assert_int_equal(e.row, 2);
		assert_int_equal(hd_msgtmpl_build(t, bad, "c", "k", 2, &m, &e),
				 HD_EMISSING);
		json_decref(good);
		json_decref(bad);
		hd_msgtmpl_free(t);
	}
}

/* One check that also gives the recipients gives what the two calls
 * give apart, for templates whose messages do not depend on the key;
 * the others are refused, and an invalid row fails it. */
static void eml_check_with_recipients(void **state)
{
	hd_mail_config verp = {.envelope_from = "bounce+{{key}}@acme.example"};
	hd_msgtmpl_opts vo = {.mail = &verp};
	hd_msgtmpl_opts ro = {.redirect = "qa@acme.example"};
	json_t *rec =
	    json_loads("{\"name\":\"Ann\",\"email\":\"Ann@X.Example\",\"m\":"
		       "\"bo@Y.example\"}",
		       0, NULL);
	json_t *bad = json_loads("{\"email\":\"not-an-address\"}", 0, NULL);
	const char *text = "From: a@acme.example\nTo: {{name}} <{{email}}>\n"
			   "Cc: {{m}}, c@Z.EXAMPLE\nBcc: d@w.example\n"
			   "Subject: s\n\nHi\n";
	hd_error e;
	char *one = NULL, *two = NULL;

	(void)state;
	for (int i = 0; i < 2; i++) {
		hd_msgtmpl *t = load(i ? "r1.eml" : "r0.eml", text,
				     i ? &ro : NULL, HD_OK, &e);

		assert_true(hd_msgtmpl_key_free(t));
		assert_int_equal(
		    hd_msgtmpl_check_recipients(t, rec, 4, &one, &e), HD_OK);
		assert_int_equal(hd_msgtmpl_recipients(t, rec, 4, &two, &e),
				 HD_OK);
		assert_string_equal(one, two);
		assert_string_equal(one, "Ann@x.example, bo@y.example, "
					 "c@z.example, d@w.example");
		free(one);
		free(two);
		assert_int_not_equal(
		    hd_msgtmpl_check_recipients(t, bad, 5, &one, &e), HD_OK);
		assert_null(one);
		hd_msgtmpl_free(t);
	}
	{
		hd_msgtmpl *t = load("v.eml", text, &vo, HD_OK, &e);

		assert_false(hd_msgtmpl_key_free(t));
		assert_int_equal(
		    hd_msgtmpl_check_recipients(t, rec, 4, &one, &e),
		    HD_EINVAL);
		hd_msgtmpl_free(t);
	}
	json_decref(rec);
	json_decref(bad);
}

/* A header whose value renders empty is left out (Cc: {{manager?}}), with
 * its recipients; errors in header lines give the column in the file. */
static void empty_headers_left_out_columns_in_the_file(void **state)
{
	hd_error e;
	hd_message m;
	hd_msgtmpl *t =
	    load("lo.eml",
		 "From: a@acme.example\nTo: {{email}}\nCc: {{manager?}}\n"
		 "Reply-To:   {{boss?}}\nSubject:    Hi {{name}}\n\nb\n",
		 NULL, HD_OK, &e);
	int tag = 0;

	(void)state;
	assert_int_equal(
	    build(t, "{\"email\":\"a@x.example\",\"name\":\"A\"}", "k", &m, &e),
	    HD_OK);
	assert_int_equal(m.email.nrcpt, 1);
	assert_null(strstr(m.email.data, "\r\nCc:"));
	assert_null(strstr(m.email.data, "Reply-To:"));
	assert_non_null(strstr(m.email.data, "\r\nSubject: Hi A\r\n"));
	hd_message_clear(&m);
	assert_int_equal(build(t,
			       "{\"email\":\"a@x.example\",\"name\":\"A\","
			       "\"manager\":\"m@x.example\"}",
			       "k", &m, &e),
			 HD_OK);
	assert_int_equal(m.email.nrcpt, 2);
	assert_string_equal(m.email.rcpt[1], "m@x.example");
	assert_non_null(strstr(m.email.data, "\r\nCc: m@x.example\r\n"));
	hd_message_clear(&m);
	/* a row's error: the column of {{name}} in the file (16), not in
	 * the value (after "Subject:" and its blanks) */
	assert_int_equal(build(t, "{\"email\":\"a@x.example\"}", "k", &m, &e),
			 HD_EMISSING);
	assert_int_equal(e.line, 5);
	assert_int_equal(e.column, 16);
	hd_msgtmpl_free(t);
	/* the template's own error, on a folded line */
	load("lo2.eml",
	     "From: a@acme.example\nTo: b@x.example\nSubject: a\n  b {{#y}}\n"
	     "\nb\n",
	     NULL, HD_ETEMPLATE, &e);
	assert_int_equal(e.line, 4);
	assert_int_equal(e.column, 5);
	load("lo3.eml",
	     "From: a@acme.example\nTo: b@x.example\nSubject:  x {{#y}}\n\nb\n",
	     NULL, HD_ETEMPLATE, &e);
	assert_int_equal(e.line, 3);
	assert_int_equal(e.column, 13);
	/* .http: the same */
	t = load("lo.http",
		 "POST https://x.example/\nX-Tag: {{tag?}}\nX-Keep: 1\n\n{}",
		 NULL, HD_OK, &e);
	assert_int_equal(build(t, "{}", "k", &m, &e), HD_OK);
	for (size_t i = 0; i < m.http.nheaders; i++)
		tag += !strcmp(m.http.headers[i].name, "X-Tag");
	assert_int_equal(tag, 0);
	hd_message_clear(&m);
	assert_int_equal(build(t, "{\"tag\":\"v\"}", "k", &m, &e), HD_OK);
	for (size_t i = 0; i < m.http.nheaders; i++)
		tag += !strcmp(m.http.headers[i].name, "X-Tag") &&
		       !strcmp(m.http.headers[i].value, "v");
	assert_int_equal(tag, 1);
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
	load("lo2.http", "POST https://x.example/\nX-Tag:   {{^t}}\n\n{}", NULL,
	     HD_ETEMPLATE, &e);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.column, 10);
}

static void eml_row_errors_name_tag_line_row(void **state)
{
	hd_error e;
	hd_message m;
	hd_msgtmpl *t = load("b.eml", eml, NULL, HD_OK, &e);

	(void)state;
	/* missing field */
	assert_int_equal(build(t, "{\"email\":\"ann@x.example\"}", "k", &m, &e),
			 HD_EMISSING);
	assert_string_equal(e.field, "name");
	assert_int_equal(e.line, 2);
	assert_int_equal(e.row, 7);
	/* empty counts as missing in strict mode */
	assert_int_equal(build(t, "{\"name\":\"\",\"email\":\"ann@x.example\"}",
			       "k", &m, &e),
			 HD_EMISSING);
	/* CR/LF in a header value: no injected header, the row is invalid */
	assert_int_equal(build(t,
			       "{\"name\":\"Ann\\r\\nBcc: v@evil.example\","
			       "\"email\":\"ann@x.example\"}",
			       "k", &m, &e),
			 HD_EHEADER);
	assert_null(m.email.data);
	/* a bad address */
	assert_int_equal(
	    build(t, "{\"name\":\"Ann\",\"email\":\"nope\"}", "k", &m, &e),
	    HD_EADDRESS);
	assert_string_equal(e.field, "To");
	/* a name cannot add a recipient */
	assert_int_equal(build(t,
			       "{\"name\":\"x <v@evil.example>, y\","
			       "\"email\":\"ann@x.example\"}",
			       "k", &m, &e),
			 HD_OK);
	assert_int_equal(m.email.nrcpt, 3);
	assert_string_equal(m.email.rcpt[0], "ann@x.example");
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
}

static void eml_raw_tags_cannot_add_recipients(void **state)
{
	hd_error e;
	hd_message m;
	hd_msgtmpl *t = load(
	    "raw.eml", "From: a@x.example\nTo: {{{name}}} <{{email}}>\n\nb\n",
	    NULL, HD_OK, &e);

	(void)state;
	assert_int_equal(build(t,
			       "{\"name\":\"x <v@evil.example>, y\","
			       "\"email\":\"ann@x.example\"}",
			       "k", &m, &e),
			 HD_OK);
	assert_int_equal(m.email.nrcpt, 1);
	assert_string_equal(m.email.rcpt[0], "ann@x.example");
	hd_message_clear(&m);
	/* a display name with '@' is quoted, not refused */
	assert_int_equal(build(t,
			       "{\"name\":\"Support @ Acme\","
			       "\"email\":\"ann@x.example\"}",
			       "k", &m, &e),
			 HD_OK);
	assert_int_equal(m.email.nrcpt, 1);
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
}

static void partials_are_files_beside_the_template(void **state)
{
	hd_error e;
	hd_message m;
	hd_msgtmpl *t;

	(void)state;
	write_file("footer.mustache", "-- \nThe {{team}} team\n");
	t = load("p.eml",
		 "From: a@x.example\nTo: b@x.example\n\nHi\n{{> footer}}", NULL,
		 HD_OK, &e);
	assert_int_equal(build(t, "{\"team\":\"Acme\"}", "k", &m, &e), HD_OK);
	assert_non_null(
	    strstr(m.email.data, "\r\n\r\nHi\r\n-- \r\nThe Acme team\r\n"));
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
	/* a partial may not come from outside the folder */
	load("p2.eml",
	     "From: a@x.example\nTo: b@x.example\n\n{{> ../etc/passwd}}", NULL,
	     HD_ETEMPLATE, &e);
	assert_non_null(strstr(e.msg, "leave"));
	/* a partial's text is not escaped: in a .http URL or header it can
	 * never bring a blank or a line break (found by fuzz/fuzz_message) */
	write_file("seg", "a b");
	write_file("hdr", "x\nX-Injected: 1");
	t = load("p3.http", "GET https://x.example/{{>seg}}/\n\n", NULL, HD_OK,
		 &e);
	assert_int_equal(build(t, "{}", "k", &m, &e), HD_EINVAL);
	assert_non_null(strstr(e.msg, "white space"));
	hd_msgtmpl_free(t);
	t = load("p4.http", "GET https://x.example/\nX-A: {{>hdr}}\n\n", NULL,
		 HD_OK, &e);
	assert_int_equal(build(t, "{}", "k", &m, &e), HD_EHEADER);
	assert_string_equal(e.field, "X-A");
	hd_msgtmpl_free(t);
}

/* A value in the authority is never percent-encoded, since libcurl
 * decodes %XX in host names: "[::%2] " encoded became the host [::]
 * (found by fuzz/fuzz_url).  Unreserved bytes only, or the row is
 * invalid. */
static void http_values_in_the_authority(void **state)
{
	static const char *const bad[] = {"[::%2] ",
					  "evil.example/",
					  "a@evil.example",
					  "evil.example:80",
					  "127.0.0.1#",
					  "%31%32%37",
					  "a b",
					  "\u00e9"};
	hd_error e;
	hd_message m;
	hd_msgtmpl *t;
	char json[128];

	(void)state;
	t = load("a1.http",
		 "GET https://u:{{pw}}@{{sub}}.hooks.example:8443/{{sub}}\n\n",
		 NULL, HD_OK, &e);
	assert_int_equal(
	    build(t, "{\"sub\": \"api-1\", \"pw\": \"t_k~1.2\"}", "k", &m, &e),
	    HD_OK);
	assert_string_equal(m.http.url,
			    "https://u:t_k~1.2@api-1.hooks.example:8443/api-1");
	hd_message_clear(&m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"sub\": \"%s\", \"pw\": \"x\"}",
			 bad[i]);
		assert_int_equal(build(t, json, "k", &m, &e), HD_EINVAL);
		assert_string_equal(e.field, "sub");
		assert_non_null(strstr(e.msg, "host, port or user part"));
	}
	hd_msgtmpl_free(t);
	/* the path still takes anything, percent-encoded */
	t = load("a2.http", "GET https://x.example/{{sub}}?q={{sub}}\n\n", NULL,
		 HD_OK, &e);
	assert_int_equal(build(t, "{\"sub\": \"a/b c\"}", "k", &m, &e), HD_OK);
	assert_string_equal(m.http.url,
			    "https://x.example/a%2Fb%20c?q=a%2Fb%20c");
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
}

static void eml_template_errors(void **state)
{
	hd_error e;

	(void)state;
	load("c1.eml", "To: a@x.example\n\nbody\n", NULL, HD_ETEMPLATE, &e);
	assert_non_null(strstr(e.msg, "From"));
	load("c2.eml", "From: a@x.example\nSubject: x\n\nbody\n", NULL,
	     HD_ETEMPLATE, &e);
	load("c3.eml",
	     "From: a@x.example\nTo: b@x.example\nMessage-ID: <x@y>\n\nb\n",
	     NULL, HD_ETEMPLATE, &e);
	assert_int_equal(e.line, 3);
	load("c4.eml",
	     "From: a@x.example\nTo: b@x.example\nSubject: {{#x}}\n\nb\n", NULL,
	     HD_ETEMPLATE, &e);
	assert_int_equal(e.line, 3);
	load("c5.eml",
	     "From: a@x.example\nTo: b@x.example\nnot a header\n\nb\n", NULL,
	     HD_ETEMPLATE, &e);
	assert_int_equal(e.line, 3);
	/* what a text file may not hold (found by fuzz/fuzz_message): a
	 * bare CR (old Mac line ends; in a header it would reach the
	 * wire), invalid UTF-8, UTF-16; each at its place */
	load("c7.http",
	     "POST https://x.example/\nContent-Type: a\rX-Injected: 1\n\nb",
	     NULL, HD_ETEMPLATE, &e);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.column, 16);
	assert_non_null(strstr(e.msg, "carriage return"));
	load("c8.eml", "From: a@x.example\rTo: b@x.example\r\rbody\r", NULL,
	     HD_ETEMPLATE, &e);
	load("c9.eml", "From: a@x.example\nTo: b@x.example\n\nh\xe9llo\n", NULL,
	     HD_ETEMPLATE, &e);
	assert_int_equal(e.line, 4);
	assert_int_equal(e.column, 2);
	assert_non_null(strstr(e.msg, "UTF-8"));
	load("c10.eml",
	     "\xff\xfe"
	     "F\0r\0",
	     NULL, HD_ETEMPLATE, &e);
	assert_non_null(strstr(e.msg, "UTF-16"));
	/* a UTF-8 byte order mark is dropped */
	hd_msgtmpl_free(load("c11.eml",
			     "\xef\xbb\xbf"
			     "From: a@x.example\nTo: b@x.example\n\nb\n",
			     NULL, HD_OK, &e));
	/* white space in a URL's own text: every row would fail at send */
	load("c12.http", "GET https://x.example/a b\n\n", NULL, HD_ETEMPLATE,
	     &e);
	assert_int_equal(e.line, 1);
	assert_int_equal(e.column, 24);
	load("c13.http", "GET https://x.example/a\tb\n\n", NULL, HD_ETEMPLATE,
	     &e);
	hd_msgtmpl_free(load("c14.http", "GET https://x.example/{{ v }}/x\n\n",
			     NULL, HD_OK, &e));
	load("c6.txt", "x", NULL, HD_EUSAGE, &e);
	assert_null(NULL);
	{
		hd_msgtmpl *t = NULL;
		assert_int_equal(
		    hd_msgtmpl_load("/nonexistent/x.eml", NULL, &t, &e),
		    HD_ENOENT);
	}
}

static void eml_parts_and_attachments(void **state)
{
	hd_error e;
	hd_message m;
	hd_msgtmpl *t;
	const char *d;

	(void)state;
	mkdir(strcat(strcpy((char[256]){0}, dir), "/files"), 0777);
	write_file("files/a.pdf", "%PDF-1.4 hello");
	write_file("secret.txt", "top secret");
	t = load("d.eml",
		 "From: a@x.example\nTo: {{email}}\nSubject: s\n"
		 "Herald-Attach: files/{{file}}; filename=Invoice {{n}}.pdf\n\n"
		 "--- text ---\nHi & bye\n--- html ---\n<p>Hi {{name}}</p>\n",
		 NULL, HD_OK, &e);
	assert_int_equal(build(t,
			       "{\"email\":\"b@x.example\",\"file\":\"a.pdf\","
			       "\"n\":\"7\",\"name\":\"<b>\"}",
			       "k", &m, &e),
			 HD_OK);
	d = m.email.data;
	assert_non_null(strstr(d, "Content-Type: multipart/mixed; boundary="));
	assert_non_null(
	    strstr(d, "Content-Type: multipart/alternative; boundary="));
	assert_non_null(strstr(d, "Content-Type: text/plain; charset=utf-8"));
	assert_non_null(strstr(d, "\r\n\r\nHi & bye\r\n"));
	assert_non_null(strstr(d, "<p>Hi &lt;b&gt;</p>"));
	assert_non_null(strstr(d, "Content-Type: application/pdf"));
	assert_non_null(strstr(d, "filename=\"Invoice 7.pdf\""));
	assert_non_null(strstr(d, "JVBERi0xLjQgaGVsbG8=")); /* base64 of file */
	assert_null(strstr(d, "Herald-Attach"));
	hd_message_clear(&m);
	/* a path that leaves the folder is refused */
	assert_int_equal(
	    build(t,
		  "{\"email\":\"b@x.example\",\"file\":\"../secret.txt\","
		  "\"n\":\"7\",\"name\":\"x\"}",
		  "k", &m, &e),
	    HD_EINVAL);
	assert_non_null(strstr(e.msg, "leaves"));
	assert_int_equal(
	    build(t,
		  "{\"email\":\"b@x.example\",\"file\":\"nope.pdf\","
		  "\"n\":\"7\",\"name\":\"x\"}",
		  "k", &m, &e),
	    HD_EINVAL);
	hd_msgtmpl_free(t);
}

static void eml_redirect_keeps_intended(void **state)
{
	hd_error e;
	hd_message m;
	hd_msgtmpl_opts o = {.redirect = "test@qa.example"};
	hd_msgtmpl *t = load("r.eml", eml, &o, HD_OK, &e);

	(void)state;
	assert_int_equal(build(t,
			       "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}",
			       "k", &m, &e),
			 HD_OK);
	assert_int_equal(m.email.nrcpt, 1);
	assert_string_equal(m.email.rcpt[0], "test@qa.example");
	assert_non_null(strstr(
	    m.email.data, "X-Original-To: ann@x.example, audit@acme.example, "
			  "archive@acme.example\r\n"));
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
}

static const char listu[] =
    "From: Acme <news@acme.example>\n"
    "To: {{name}} <{{email}}>\n"
    "Subject: News\n"
    "List-Unsubscribe: <https://acme.example/unsubscribe/a/very/long/path/"
    "that/goes/past/seventy-eight/columns/{{id}}>, "
    "<mailto:unsub@acme.example?subject=unsubscribe%20{{email}}>\n"
    "\n"
    "Hi\n";

/* Never folded, data percent-encoded, List-Unsubscribe-Post for https. */
static void eml_list_unsubscribe(void **state)
{
	hd_error e;
	hd_message m;
	hd_msgtmpl *t = load("lu.eml", listu, NULL, HD_OK, &e);

	(void)state;
	assert_int_equal(build(t,
			       "{\"name\":\"Ann\",\"email\":\"ann@x.example\","
			       "\"id\":\"7\"}",
			       "k", &m, &e),
			 HD_OK);
	assert_non_null(strstr(
	    m.email.data,
	    "\r\nList-Unsubscribe: <https://acme.example/unsubscribe/a/very/"
	    "long/path/that/goes/past/seventy-eight/columns/7>, "
	    "<mailto:unsub@acme.example?subject=unsubscribe%20ann%40x."
	    "example>\r\nList-Unsubscribe-Post: "
	    "List-Unsubscribe=One-Click\r\n"));
	hd_message_clear(&m);
	/* data cannot end a URI or add one */
	assert_int_equal(build(t,
			       "{\"name\":\"Ann\",\"email\":\"ann@x.example\","
			       "\"id\":\"7>, <https://evil.example/\"}",
			       "k", &m, &e),
			 HD_OK);
	assert_non_null(strstr(m.email.data,
			       "columns/7%3E%2C%20%3Chttps%3A%2F%2Fevil."
			       "example%2F>, <mailto:"));
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
	/* mailto only: no one-click */
	t = load("lu2.eml",
		 "From: a@acme.example\nTo: {{email}}\nSubject: x\n"
		 "List-Unsubscribe: <mailto:u@acme.example>\n\nHi\n",
		 NULL, HD_OK, &e);
	assert_int_equal(build(t, "{\"email\":\"ann@x.example\"}", "k", &m, &e),
			 HD_OK);
	assert_non_null(strstr(
	    m.email.data, "List-Unsubscribe: <mailto:u@acme.example>\r\n"));
	assert_null(strstr(m.email.data, "List-Unsubscribe-Post"));
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
	/* not a list of <URI>s: the row says why */
	t = load("lu3.eml",
		 "From: a@acme.example\nTo: {{email}}\nSubject: x\n"
		 "List-Unsubscribe: https://acme.example/u\n\nHi\n",
		 NULL, HD_OK, &e);
	assert_int_equal(build(t, "{\"email\":\"ann@x.example\"}", "k", &m, &e),
			 HD_EHEADER);
	assert_string_equal(e.field, "List-Unsubscribe");
	assert_non_null(strstr(e.msg, "<URI>"));
	hd_msgtmpl_free(t);
	/* herald writes List-Unsubscribe-Post itself */
	load("lu4.eml",
	     "From: a@acme.example\nTo: b@x.example\nSubject: x\n"
	     "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n\nHi\n",
	     NULL, HD_ETEMPLATE, &e);
}

static const char *secret_path(void)
{
	static const char text[] = "0123456789abcdef0123456789abcdef\n";
	static char path[256]; /* kept: tmpdir_path's buffer is reused */

	snprintf(path, sizeof(path), "%s",
		 tmpdir_write("unsub.secret", text, sizeof(text) - 1, 0600));
	return path;
}

/* {{unsubscribe.token}} is the token for (campaign, key), in .eml and
 * .http alike, and herald's name wins over a record's field. */
static void unsubscribe_token_in_templates(void **state)
{
	hd_error e;
	hd_message m;
	hd_mail_config mc = {.unsubscribe_secret_file = secret_path()};
	hd_msgtmpl_opts o = {.mail = &mc};
	hd_unsub_secret *sec = NULL;
	hd_buf want = HD_BUF_INIT, line = HD_BUF_INIT;
	hd_msgtmpl *t = load("ut.eml",
			     "From: a@acme.example\nTo: {{email}}\nSubject: x\n"
			     "List-Unsubscribe: "
			     "<https://acme.example/u/{{unsubscribe.token}}>\n"
			     "\nBye: https://acme.example/u/"
			     "{{unsubscribe.token}}\n",
			     &o, HD_OK, &e);

	(void)state;
	assert_int_equal(
	    hd__unsub_secret_load(mc.unsubscribe_secret_file, &sec, &e), HD_OK);
	assert_int_equal(hd__unsub_token(sec, "camp", "ann-key", &want), HD_OK);
	assert_int_equal(build(t,
			       "{\"email\":\"ann@x.example\","
			       "\"unsubscribe\":{\"token\":\"forged\"}}",
			       "ann-key", &m, &e),
			 HD_OK);
	hd_buf_printf(&line,
		      "List-Unsubscribe: <https://acme.example/u/%s>\r\n",
		      want.data);
	assert_non_null(strstr(m.email.data, line.data));
	hd_buf_reset(&line);
	hd_buf_printf(&line, "Bye: https://acme.example/u/%s\r\n", want.data);
	assert_non_null(strstr(m.email.data, line.data));
	assert_null(strstr(m.email.data, "forged"));
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
	t = load("ut.http",
		 "POST https://sms.example/send\n"
		 "Content-Type: application/json\n\n"
		 "{\"to\":\"{{phone}}\",\"stop\":\"https://acme.example/u/"
		 "{{unsubscribe.token}}\"}\n",
		 &o, HD_OK, &e);
	assert_int_equal(build(t, "{\"phone\":\"+1555\"}", "ann-key", &m, &e),
			 HD_OK);
	assert_non_null(strstr(m.http.body, want.data));
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
	/* a template that needs the secret, without it: one error, at load */
	load("ut2.eml",
	     "From: a@acme.example\nTo: {{email}}\nSubject: x\n\n"
	     "https://acme.example/u/{{unsubscribe.token}}\n",
	     NULL, HD_EUSAGE, &e);
	assert_non_null(strstr(e.msg, "--unsubscribe-secret-file"));
	hd_buf_free(&want);
	hd_buf_free(&line);
	hd__unsub_secret_free(sec);
}

/* --envelope-from: MAIL FROM apart from From:, {{key}} VERP-encoded. */
static void envelope_from(void **state)
{
	hd_error e;
	hd_message m;
	hd_mail_config mc = {.envelope_from = "bounces+{{key}}@acme.example"};
	hd_msgtmpl_opts o = {.mail = &mc};
	hd_msgtmpl *t = load("ef.eml", eml, &o, HD_OK, &e);
	char want[80], hash[33];

	(void)state;
	assert_int_equal(build(t,
			       "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}",
			       "Ann.O'Neil+news@x.example", &m, &e),
			 HD_OK);
	assert_string_equal(
	    m.email.from, "bounces+Ann.O+27Neil+2Bnews=x.example@acme.example");
	assert_non_null(
	    strstr(m.email.data, "From: Acme <noreply@acme.example>\r\n"));
	hd_message_clear(&m);
	/* a key too long for a 64-octet local part: that row, named */
	assert_int_equal(
	    build(t, "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}",
		  "a-very-long-recipient-key-that-cannot-fit@a-long-domain."
		  "example",
		  &m, &e),
	    HD_EADDRESS);
	assert_string_equal(e.field, "--envelope-from");
	assert_int_equal(e.row, 7);
	hd_msgtmpl_free(t);
	/* {{id}}: the Message-ID's hex, always fits */
	mc.envelope_from = "b-{{id}}@acme.example";
	t = load("ef2.eml", eml, &o, HD_OK, &e);
	assert_int_equal(build(t,
			       "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}",
			       "k", &m, &e),
			 HD_OK);
	hd_message_hash("camp", "k", hash);
	/* the 32 hex digits of two 64-bit hashes of campaign and key,
	 * fixed for good: journals and Message-IDs of earlier runs hold
	 * them */
	assert_string_equal(hash, "f377696f0685098fbdf7d4cf6f90389e");
	snprintf(want, sizeof(want), "b-%s@acme.example", hash);
	assert_string_equal(m.email.from, want);
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
	/* refused at load, once: other tags, not an address, HTTP */
	mc.envelope_from = "{{email}}@acme.example";
	load("ef3.eml", eml, &o, HD_EUSAGE, &e);
	assert_non_null(strstr(e.msg, "{{key}}"));
	mc.envelope_from = "bounces";
	load("ef4.eml", eml, &o, HD_EUSAGE, &e);
	mc.envelope_from = "bounces@acme.example";
	load("ef5.http", "POST https://x.example/\n\nhi\n", &o, HD_EUSAGE, &e);
}

static const char *key_path(const char *alg)
{
	static char path[256];
	EVP_PKEY *k = strcmp(alg, "rsa") == 0
			  ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
			  : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s.pem", dir, alg);
	fp = fopen(path, "w");
	assert_non_null(fp);
	PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	chmod(path, 0600);
	EVP_PKEY_free(k);
	return path;
}

/* The signatures come first, over the finished bytes (X-Original-To of a
 * redirect included, unsigned); hd_msgtmpl_check does not sign. */
static void dkim_signs_what_is_sent(void **state)
{
	char spec[300];
	const char *specs[1] = {spec};
	hd_mail_config mc = {.dkim = specs, .n_dkim = 1};
	hd_msgtmpl_opts o = {.redirect = "qa@acme.example", .mail = &mc};
	hd_error e;
	hd_message m;
	hd_msgtmpl *t;
	json_t *rec;

	(void)state;
	snprintf(spec, sizeof(spec), "ed25519:sel:acme.example:%s",
		 key_path("ed25519"));
	t = load("dk.eml", eml, &o, HD_OK, &e);
	assert_int_equal(build(t,
			       "{\"name\":\"Ann\",\"email\":\"ann@x.example\"}",
			       "k", &m, &e),
			 HD_OK);
	assert_int_equal(strncmp(m.email.data,
				 "DKIM-Signature: v=1; "
				 "a=ed25519-sha256;",
				 35),
			 0);
	assert_non_null(strstr(m.email.data, "\r\nX-Original-To: "));
	assert_null(strstr(m.email.data, "x-original-to"));
	hd_message_clear(&m);
	rec = json_loads("{\"name\":\"Ann\",\"email\":\"ann@x.example\"}", 0,
			 NULL);
	assert_int_equal(hd_msgtmpl_check(t, rec, "camp", "k", 3, &e), HD_OK);
	json_decref(rec);
	rec = json_loads("{\"email\":\"ann@x.example\"}", 0, NULL);
	assert_int_equal(hd_msgtmpl_check(t, rec, "camp", "k", 3, &e),
			 HD_EMISSING);
	assert_int_equal(e.row, 3);
	json_decref(rec);
	hd_msgtmpl_free(t);
	/* a key readable by others: the load refuses */
	chmod(spec + strlen("ed25519:sel:acme.example:"), 0644);
	load("dk2.eml", eml, &o, HD_ECONFIG, &e);
	/* DKIM is for email */
	load("dk3.http", "POST https://x.example/\n\nhi\n", &o, HD_EUSAGE, &e);
}

static void http_escapes_by_context(void **state)
{
	hd_error e;
	hd_message m;
	hd_msgtmpl *t;
	const char *names[] = {"TOKEN"};
	hd_msgtmpl_opts o = {.env_names = names, .n_env = 1};

	(void)state;
	setenv("TOKEN", "s3cret", 1);
	setenv("OTHER", "nope", 1);
	t = load("h.http",
		 "# a comment\n"
		 "POST https://hooks.example/t/{{team}}?q={{q}}\n"
		 "Content-Type: application/json\n"
		 "Authorization: Bearer {{env.TOKEN}}\n"
		 "\n"
		 "{\"text\": \"Hi {{name}}\"}\n",
		 &o, HD_OK, &e);
	assert_int_equal(hd_msgtmpl_kind(t), HD_MSG_HTTP);
	assert_int_equal(build(t,
			       "{\"team\":\"a/../b?c#d\",\"q\":\"x&y=1 %\","
			       "\"name\":\"\\\"q\\\" \\\\ \\n\"}",
			       "k1", &m, &e),
			 HD_OK);
	assert_string_equal(m.http.method, "POST");
	assert_string_equal(m.http.url,
			    "https://hooks.example/t/a%2F..%2Fb%3Fc%23d"
			    "?q=x%26y%3D1%20%25");
	assert_int_equal(m.http.nheaders, 3);
	assert_string_equal(m.http.headers[1].value, "Bearer s3cret");
	assert_string_equal(m.http.headers[2].name, "Idempotency-Key");
	assert_string_equal(m.http.headers[2].value, m.id);
	{
		/* the key's hash, UUID-shaped: 8-4-4-4-12 */
		char hash[33], uuid[40];
		hd_message_hash("camp", "k1", hash);
		snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", hash,
			 hash + 8, hash + 12, hash + 16, hash + 20);
		assert_string_equal(m.id, uuid);
	}
	assert_string_equal(m.http.body,
			    "{\"text\": \"Hi \\\"q\\\" \\\\ \\n\"}");
	hd_message_clear(&m);
	/* a CR/LF in a header value: invalid row */
	hd_msgtmpl_free(t);
	t = load("h2.http", "GET https://x.example/\nX-Name: {{name}}\n", NULL,
		 HD_OK, &e);
	assert_int_equal(
	    build(t, "{\"name\":\"a\\r\\nX-Evil: 1\"}", "k", &m, &e),
	    HD_EHEADER);
	hd_msgtmpl_free(t);
	/* env variables not named with --env are not readable */
	t = load("h3.http", "GET https://x.example/{{env.OTHER}}\n", NULL,
		 HD_OK, &e);
	assert_int_equal(build(t, "{\"a\":\"b\"}", "k", &m, &e), HD_EMISSING);
	hd_msgtmpl_free(t);
	/* form bodies are form-encoded */
	t = load("h4.http",
		 "POST https://sms.example/send\n"
		 "Content-Type: application/x-www-form-urlencoded\n\n"
		 "To={{to}}&Body={{body}}\n",
		 NULL, HD_OK, &e);
	assert_int_equal(
	    build(t, "{\"to\":\"+1 555\",\"body\":\"a&b=c\"}", "k", &m, &e),
	    HD_OK);
	assert_string_equal(m.http.body, "To=%2B1+555&Body=a%26b%3Dc");
	hd_message_clear(&m);
	hd_msgtmpl_free(t);
	load("h5.http", "POST ftp://x.example/\n", NULL, HD_ETEMPLATE, &e);
	assert_int_equal(e.line, 1);
}

static void request_format_is_http_file_form(void **state)
{
	hd_header h[] = {{(char *)"A", (char *)"1"}};
	hd_request r = {(char *)"PUT",
			(char *)"http://x.example/",
			h,
			1,
			(char *)"body",
			4};
	hd_buf b = HD_BUF_INIT;

	(void)state;
	assert_int_equal(hd_request_format(&b, &r), HD_OK);
	assert_string_equal(b.data, "PUT http://x.example/\nA: 1\n\nbody");
	hd_buf_free(&b);
}

/* A JSON body is JSON for every row: where every tag is an escaped value
 * inside a string the template alone shows it, once; wherever a tag is
 * anything else, each row's body is still checked. */
static void http_json_body_every_row(void **state)
{
	static const char *bodies[] = {
	    /* proven: every value inside a string that is a value */
	    "{\"to\": \"{{to}}\", \"text\": \"Hi {{to}}, \\n{{x?none}}\"}",
	    /* a value in a key: a NUL there is jansson's to refuse */
	    "{\"{{x}}\": \"v\"}",
	    /* a value outside quotes */
	    "{\"to\": \"{{to}}\", \"n\": {{x}}}",
	    /* right after a backslash: the value ends the escape */
	    "{\"to\": \"\\{{x}}\"}",
	    /* unescaped */
	    "{\"to\": \"{{{x}}}\"}",
	    /* a section around structure */
	    "{\"l\": [{{#l}}\"{{.}}\", {{/l}}\"end\"]}",
	};
	/* values for x, and whether each body is JSON with it (after a
	 * backslash, "n" makes \n, and a value whose first character is
	 * escaped makes an escaped backslash) */
	static const struct {
		const char *x;
		int ok[6];
	} rows[] = {
	    {"plain", {1, 1, 0, 0, 1, 1}},
	    {"5", {1, 1, 1, 0, 1, 1}},
	    {"n", {1, 1, 0, 1, 1, 1}},
	    {"q\\\"}, \\\"evil\\\": \\\"", {1, 1, 0, 0, 0, 1}},
	    {"a\\u0000b", {1, 0, 0, 0, 0, 1}},
	    {"\\n\\t\\u2028\\ud83c\\udf89\\\\", {1, 1, 0, 1, 0, 1}},
	};
	char name[32], rec[200];
	hd_error e;
	hd_message m;

	(void)state;
	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		hd_buf text = HD_BUF_INIT;
		hd_msgtmpl *t;

		hd_buf_printf(&text,
			      "POST https://hooks.example/in\n"
			      "Content-Type: application/json\n\n%s\n",
			      bodies[b]);
		snprintf(name, sizeof(name), "jb%zu.http", b);
		t = load(name, text.data, NULL, HD_OK, &e);
		for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
			hd_status st;
			snprintf(rec, sizeof(rec),
				 "{\"to\":\"ann\\\"@x\",\"x\":\"%s\","
				 "\"l\":[\"%s\"]}",
				 rows[r].x, rows[r].x);
			/* a NUL is a value's as the list readers take it */
			json_t *rj = json_loads(rec, JSON_ALLOW_NUL, NULL);
			assert_non_null(rj);
			hd_error_clear(&e);
			st = hd_msgtmpl_build(t, rj, "camp", "k", 7, &m, &e);
			json_decref(rj);
			if (st != (rows[r].ok[b] ? HD_OK : HD_EPARSE))
				fail_msg("body %zu, x=%s: %s", b, rows[r].x,
					 e.msg);
			if (st == HD_OK) {
				/* and jansson reads what is sent */
				json_t *v =
				    json_loadb(m.http.body, m.http.body_len,
					       JSON_ALLOW_NUL, NULL);
				if (!v)
					fail_msg("body %zu, x=%s: sent '%s'", b,
						 rows[r].x, m.http.body);
				json_decref(v);
			} else {
				assert_non_null(strstr(
				    e.msg, "not valid JSON once rendered"));
			}
			hd_message_clear(&m);
		}
		hd_msgtmpl_free(t);
		hd_buf_free(&text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(eml_envelope_headers_and_bcc),
	    cmocka_unit_test(eml_date_follows_the_clock),
	    cmocka_unit_test(eml_check_renders_every_part),
	    cmocka_unit_test(eml_check_with_recipients),
	    cmocka_unit_test(eml_headers_without_tags_as_rendered_per_row),
	    cmocka_unit_test(eml_row_errors_name_tag_line_row),
	    cmocka_unit_test(empty_headers_left_out_columns_in_the_file),
	    cmocka_unit_test(eml_raw_tags_cannot_add_recipients),
	    cmocka_unit_test(partials_are_files_beside_the_template),
	    cmocka_unit_test(eml_template_errors),
	    cmocka_unit_test(eml_parts_and_attachments),
	    cmocka_unit_test(eml_redirect_keeps_intended),
	    cmocka_unit_test(eml_list_unsubscribe),
	    cmocka_unit_test(unsubscribe_token_in_templates),
	    cmocka_unit_test(envelope_from),
	    cmocka_unit_test(dkim_signs_what_is_sent),
	    cmocka_unit_test(http_escapes_by_context),
	    cmocka_unit_test(http_json_body_every_row),
	    cmocka_unit_test(http_values_in_the_authority),
	    cmocka_unit_test(request_format_is_http_file_form),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}

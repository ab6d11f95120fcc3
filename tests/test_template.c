/*
 * test_template.c — herald's own rules for lib/template.c: strict mode and
 * its errors, the '?' marker, escapers, syntax errors with their places,
 * limits, partials, and one template rendered by many threads at once.
 * (The official Mustache spec runs in test_mustache_spec.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "template.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ----------------------------------------------------------- */

static double now(void);

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", text, e.text);
	return v;
}

static hd_tmpl *compile(const char *src, const hd_tmpl_opts *o)
{
	hd_tmpl *t = NULL;
	hd_error err;
	hd_status st;

	hd_error_clear(&err);
	st = hd_tmpl_compile(src, strlen(src), o, &t, &err);
	if (st != HD_OK)
		fail_msg("compile '%s': %s: %s", src, hd_status_name(st),
			 err.msg);
	return t;
}

/* Renders src against json; returns the status, the output in *out
 * (malloc'd, "" on failure) and the error in *err. */
static hd_status run(const char *src, const char *json, const hd_tmpl_opts *o,
		     const hd_tmpl_render_opts *ro, char **out, hd_error *err)
{
	hd_tmpl *t = compile(src, o);
	json_t *data = js(json);
	hd_buf b = HD_BUF_INIT;
	hd_status st;

	hd_error_clear(err);
	st = hd_tmpl_render(t, data, ro, &b, err);
	*out = hd_buf_detach(&b, NULL);
	json_decref(data);
	hd_tmpl_free(t);
	return st;
}

/* Asserts that src renders to want (strict unless lenient). */
static void expect(const char *src, const char *json, int lenient,
		   const char *want)
{
	hd_tmpl_opts o = {.source = "t", .lenient = lenient};
	hd_error err;
	char *got;
	hd_status st = run(src, json, &o, NULL, &got, &err);

	if (st != HD_OK)
		fail_msg("'%s' with %s: %s: %s", src, json, hd_status_name(st),
			 err.msg);
	if (strcmp(got, want) != 0)
		fail_msg("'%s' with %s: got '%s', want '%s'", src, json, got,
			 want);
	free(got);
}

/* Asserts that compiling src fails with code at line:col, msg holding
 * part. */
static void expect_syntax(const char *src, long first_line, hd_status code,
			  long line, long col, const char *part)
{
	hd_tmpl_opts o = {.source = "mail.eml", .first_line = first_line};
	hd_tmpl *t = (hd_tmpl *)1;
	hd_error err;
	hd_status st;

	hd_error_clear(&err);
	st = hd_tmpl_compile(src, strlen(src), &o, &t, &err);
	if (st != code)
		fail_msg("'%s': got %s, want %s", src, hd_status_name(st),
			 hd_status_name(code));
	assert_null(t);
	assert_int_equal(err.code, code);
	assert_string_equal(err.file, "mail.eml");
	if (err.line != line || err.column != col)
		fail_msg("'%s': error at %ld:%ld, want %ld:%ld (%s)", src,
			 err.line, err.column, line, col, err.msg);
	if (!strstr(err.msg, part))
		fail_msg("'%s': message '%s' lacks '%s'", src, err.msg, part);
}

/* ---- strict mode ------------------------------------------------------- */

static void test_strict_missing(void **state)
{
	hd_tmpl_opts o = {.source = "mail.eml", .first_line = 10};
	hd_tmpl_render_opts ro = {.row = 7};
	hd_tmpl *t;
	json_t *data = js("{\"name\":\"Ann\"}");
	hd_buf b = HD_BUF_INIT;
	hd_error err;
	hd_status st;

	(void)state;
	t = compile("Hello {{name}}!\nYour code: {{code}}\n", &o);
	hd_buf_puts(&b, "kept");
	hd_error_clear(&err);
	st = hd_tmpl_render(t, data, &ro, &b, &err);
	assert_int_equal(st, HD_EMISSING);
	assert_int_equal(err.code, HD_EMISSING);
	assert_string_equal(err.file, "mail.eml");
	assert_int_equal(err.line, 11);
	assert_int_equal(err.column, 12);
	assert_int_equal(err.row, 7);
	assert_string_equal(err.field, "code");
	assert_string_equal(err.msg, "no value for {{code}}");
	/* a failed render leaves the buffer as it was */
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "kept");
	hd_buf_free(&b);
	hd_tmpl_free(t);
	json_decref(data);
}

static void test_strict_first_column(void **state)
{
	/* a header value: "Subject: " precedes the text on line 3 */
	hd_tmpl_opts o = {
	    .source = "m.eml", .first_line = 3, .first_column = 10};
	hd_error err;
	char *got;

	(void)state;
	assert_int_equal(run("Hi {{who}}", "{}", &o, NULL, &got, &err),
			 HD_EMISSING);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.column, 13);
	assert_string_equal(got, "");
	free(got);
	/* the column offset is for the first line only */
	assert_int_equal(run("a\n {{who}}", "{}", &o, NULL, &got, &err),
			 HD_EMISSING);
	assert_int_equal(err.line, 4);
	assert_int_equal(err.column, 2);
	free(got);
}

static void test_strict_null_and_dotted(void **state)
{
	hd_tmpl_opts o = {.source = "t"};
	hd_error err;
	char *got;

	(void)state;
	assert_int_equal(
	    run("{{name}}", "{\"name\":null}", &o, NULL, &got, &err),
	    HD_EMISSING);
	assert_string_equal(err.field, "name");
	free(got);
	assert_int_equal(
	    run("x{{a.b.c}}", "{\"a\":{\"b\":{}}}", &o, NULL, &got, &err),
	    HD_EMISSING);
	assert_string_equal(err.field, "a.b.c");
	assert_string_equal(err.msg, "no value for {{a.b.c}}");
	assert_int_equal(err.column, 2);
	free(got);
	/* a part that is not an object ends the chain */
	assert_int_equal(
	    run("{{a.b}}", "{\"a\":\"str\"}", &o, NULL, &got, &err),
	    HD_EMISSING);
	free(got);
	/* {{.}} on null */
	assert_int_equal(
	    run("{{#l}}{{.}}{{/l}}", "{\"l\":[1,null]}", &o, NULL, &got, &err),
	    HD_EMISSING);
	assert_string_equal(err.field, ".");
	free(got);
	/* found in an outer context */
	expect("{{#a}}{{b}}{{/a}}", "{\"a\":{\"x\":1},\"b\":\"outer\"}", 0,
	       "outer");
	/* triple and ampersand are strict too */
	assert_int_equal(run("{{{x}}}", "{}", &o, NULL, &got, &err),
			 HD_EMISSING);
	free(got);
	assert_int_equal(run("{{&x}}", "{}", &o, NULL, &got, &err),
			 HD_EMISSING);
	free(got);
}

static void test_sections_never_missing(void **state)
{
	(void)state;
	expect("{{#missing}}x{{/missing}}{{^missing}}y{{/missing}}"
	       "{{#a.b}}z{{/a.b}}{{^n}}N{{/n}}",
	       "{\"n\":null}", 0, "yN");
	/* falsy values */
	expect("{{^e}}1{{/e}}{{^z}}2{{/z}}{{^f}}3{{/f}}{{^l}}4{{/l}}"
	       "{{^r}}5{{/r}}",
	       "{\"e\":\"\",\"z\":0,\"f\":false,\"l\":[],\"r\":0.0}", 0,
	       "12345");
	/* truthy values are pushed: {{.}} is the value */
	expect("{{#s}}[{{.}}]{{/s}}{{#i}}[{{.}}]{{/i}}{{#o}}[{{k}}]{{/o}}",
	       "{\"s\":\"str\",\"i\":5,\"o\":{\"k\":\"v\"}}", 0, "[str][5][v]");
}

static void test_lenient(void **state)
{
	hd_tmpl_opts o = {.source = "t", .lenient = 1};
	hd_error err;
	char *got;

	(void)state;
	expect("a{{x}}b{{y.z}}c{{{n}}}d{{o}}e{{l}}f",
	       "{\"n\":null,\"o\":{\"k\":1},\"l\":[1]}", 1, "abcdef");
	assert_int_equal(run("{{x}}", "null", &o, NULL, &got, &err), HD_OK);
	assert_string_equal(got, "");
	free(got);
}

static void test_objects_are_not_values(void **state)
{
	hd_tmpl_opts o = {.source = "t"};
	hd_tmpl_render_opts ro = {.row = 2};
	hd_error err;
	char *got;

	(void)state;
	assert_int_equal(
	    run("\n  {{a}}", "{\"a\":{\"b\":1}}", &o, &ro, &got, &err),
	    HD_EINVAL);
	assert_string_equal(err.msg, "{{a}} is an object, not a value");
	assert_string_equal(err.field, "a");
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 3);
	assert_int_equal(err.row, 2);
	free(got);
	assert_int_equal(run("{{a}}", "{\"a\":[1]}", &o, NULL, &got, &err),
			 HD_EINVAL);
	assert_string_equal(err.msg, "{{a}} is an array, not a value");
	free(got);
}

static void test_value_formats(void **state)
{
	(void)state;
	expect("{{i}} {{n}} {{r}} {{s}} {{h}} {{w}} {{e}} {{t}} {{f}}",
	       "{\"i\":42,\"n\":-7,\"r\":1.21,\"s\":0.30000000000000004,"
	       "\"h\":2.5,\"w\":100.0,\"e\":1e300,\"t\":true,\"f\":false}",
	       0, "42 -7 1.21 0.30000000000000004 2.5 100 1e+300 true false");
	expect("{{big}}", "{\"big\":9007199254740993}", 0, "9007199254740993");
	/* integers at the edges, written as printf writes them */
	{
		static const json_int_t ints[] = {0,
						  1,
						  -1,
						  9,
						  10,
						  -10,
						  99,
						  100,
						  1234567890,
						  -987654321,
						  INT64_MAX,
						  INT64_MIN,
						  INT64_MIN + 1,
						  INT64_MAX - 1};
		hd_tmpl_opts o = {.source = "t"};
		hd_tmpl *t = compile("<{{i}}>", &o);
		for (size_t i = 0; i < sizeof(ints) / sizeof(*ints); i++) {
			json_t *d = json_pack("{sI}", "i", ints[i]);
			hd_buf b = HD_BUF_INIT;
			char want[40];
			snprintf(want, sizeof(want),
				 "<%" JSON_INTEGER_FORMAT ">", ints[i]);
			assert_int_equal(hd_tmpl_render(t, d, NULL, &b, NULL),
					 HD_OK);
			assert_string_equal(b.data, want);
			hd_buf_free(&b);
			json_decref(d);
		}
		hd_tmpl_free(t);
	}
	/* strings keep their bytes, NUL included */
	{
		hd_tmpl_opts o = {.source = "t"};
		hd_tmpl *t = compile("[{{{s}}}]", &o);
		json_t *d = json_object();
		hd_buf b = HD_BUF_INIT;
		json_object_set_new(d, "s", json_stringn("a\0b", 3));
		assert_int_equal(hd_tmpl_render(t, d, NULL, &b, NULL), HD_OK);
		assert_int_equal(b.len, 5);
		assert_memory_equal(b.data, "[a\0b]", 5);
		hd_buf_free(&b);
		json_decref(d);
		hd_tmpl_free(t);
	}
}

/* ---- the '?' marker ---------------------------------------------------- */

static void test_optional(void **state)
{
	(void)state;
	expect("Hi {{nick?}}!", "{}", 0, "Hi !");
	expect("Hi {{nick?}}!", "{\"nick\":null}", 0, "Hi !");
	expect("Hi {{nick?}}!", "{\"nick\":\"Bo\"}", 0, "Hi Bo!");
	expect("Hi {{nick?there}}!", "{}", 0, "Hi there!");
	expect("Hi {{nick?there}}!", "{\"nick\":null}", 0, "Hi there!");
	expect("Hi {{nick?there}}!", "{\"nick\":\"\"}", 0, "Hi there!");
	expect("Hi {{nick?there}}!", "{\"nick\":\"Bo\"}", 0, "Hi Bo!");
	expect("Hi {{nick?there}}!", "{\"nick\":0}", 0, "Hi 0!");
	expect("Dear {{ nick?valued customer }},", "{}", 0,
	       "Dear valued customer,");
	/* the fallback is escaped like a value */
	expect("{{x?<b> & co}}", "{}", 0, "&lt;b&gt; &amp; co");
	expect("{{{x?<b>}}}|{{&x?<i>}}|{{{y?}}}", "{}", 0, "<b>|<i>|");
	expect("{{{x?}}}", "{\"x\":\"<v>\"}", 0, "<v>");
	/* dotted */
	expect("{{a.b?}}|{{a.b?none}}", "{\"a\":{}}", 0, "|none");
	expect("{{a.b?}}|{{a.b?none}}", "{}", 0, "|none");
	expect("{{a.b?}}|{{a.b?none}}", "{\"a\":{\"b\":\"v\"}}", 0, "v|v");
	/* not a value: still an error in strict mode */
	{
		hd_tmpl_opts o = {.source = "t"};
		hd_error err;
		char *got;
		assert_int_equal(
		    run("{{a?}}", "{\"a\":{}}", &o, NULL, &got, &err),
		    HD_EINVAL);
		assert_string_equal(err.field, "a");
		free(got);
	}
}

/* ---- escapers ---------------------------------------------------------- */

static hd_status hdr_escape(hd_buf *out, const char *s, size_t n, hd_error *err)
{
	if (memchr(s, '\n', n) || memchr(s, '\r', n))
		return hd_error_set(err, HD_EHEADER, NULL, 0, 0,
				    "CR or LF in a header value");
	return hd_buf_append(out, s, n);
}

static hd_status tag_e(hd_buf *out, const char *s, size_t n, hd_error *err)
{
	(void)err;
	hd_buf_puts(out, "[E:");
	hd_buf_append(out, s, n);
	return hd_buf_puts(out, "]");
}

static hd_status tag_r(hd_buf *out, const char *s, size_t n, hd_error *err)
{
	(void)err;
	hd_buf_puts(out, "[R:");
	hd_buf_append(out, s, n);
	return hd_buf_puts(out, "]");
}

static void test_escaper_errors(void **state)
{
	hd_tmpl_opts o = {.source = "t.eml", .first_line = 4};
	hd_tmpl_render_opts ro = {
	    .escape = hdr_escape, .raw = hdr_escape, .row = 3};
	hd_error err;
	char *got;

	(void)state;
	assert_int_equal(run("Subject: {{subject}}",
			     "{\"subject\":\"a\\nBcc: x\"}", &o, &ro, &got,
			     &err),
			 HD_EHEADER);
	assert_int_equal(err.code, HD_EHEADER);
	assert_string_equal(err.msg, "CR or LF in a header value");
	assert_string_equal(err.field, "subject");
	assert_string_equal(err.file, "t.eml");
	assert_int_equal(err.line, 4);
	assert_int_equal(err.column, 10);
	assert_int_equal(err.row, 3);
	assert_string_equal(got, "");
	free(got);
	/* raw goes through ro->raw, dotted names keep their full name */
	assert_int_equal(run("ok\n {{{a.b}}}", "{\"a\":{\"b\":\"\\r\"}}", &o,
			     &ro, &got, &err),
			 HD_EHEADER);
	assert_string_equal(err.field, "a.b");
	assert_int_equal(err.line, 5);
	assert_int_equal(err.column, 2);
	free(got);
	/* and so does a fallback */
	assert_int_equal(run("{{x?a\rb}}", "{}", &o, &ro, &got, &err),
			 HD_EHEADER);
	assert_string_equal(err.field, "x");
	free(got);
	/* no error: the value passes */
	assert_int_equal(run("Subject: {{subject}}", "{\"subject\":\"Hi\"}", &o,
			     &ro, &got, &err),
			 HD_OK);
	assert_string_equal(got, "Subject: Hi");
	free(got);
}

static void test_custom_escapers(void **state)
{
	hd_tmpl_opts o = {.source = "t"};
	hd_tmpl_render_opts ro = {.escape = tag_e, .raw = tag_r};
	hd_tmpl_render_opts def = {0};
	hd_error err;
	char *got;

	(void)state;
	assert_int_equal(run("{{a}} {{{a}}} {{&a}} {{n}} {{m?fb}}",
			     "{\"a\":\"<x>\",\"n\":3}", &o, &ro, &got, &err),
			 HD_OK);
	assert_string_equal(got, "[E:<x>] [R:<x>] [R:<x>] [E:3] [E:fb]");
	free(got);
	/* defaults: HTML for {{x}} (only & " < >), as is for {{{x}}} */
	assert_int_equal(
	    run("{{a}}|{{{a}}}", "{\"a\":\"<&\\\"'>\"}", &o, &def, &got, &err),
	    HD_OK);
	assert_string_equal(got, "&lt;&amp;&quot;'&gt;|<&\"'>");
	free(got);
}

/* ---- syntax errors ----------------------------------------------------- */

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_syntax("Hello {{name", 1, HD_ETEMPLATE, 1, 7, "unclosed tag");
	expect_syntax("a\n  {{#s}}\nb", 1, HD_ETEMPLATE, 2, 3,
		      "unclosed section {{#s}}");
	expect_syntax("{{#a}}\n{{/b}}", 1, HD_ETEMPLATE, 2, 1,
		      "{{/b}} does not close {{#a}} opened on line 1");
	expect_syntax("x {{/a}}", 1, HD_ETEMPLATE, 1, 3, "closes no section");
	expect_syntax("x\n{{=<% =}}", 1, HD_ETEMPLATE, 2, 1,
		      "bad delimiter change");
	expect_syntax("{{=a b c=}}", 1, HD_ETEMPLATE, 1, 1,
		      "bad delimiter change");
	expect_syntax("{{=<% %>=}}\n<%x", 1, HD_ETEMPLATE, 2, 1,
		      "no '%>' after '<%'");
	expect_syntax("{{{x}}", 1, HD_ETEMPLATE, 1, 1, "no '}}}'");
	expect_syntax("{{first name}}", 1, HD_ETEMPLATE, 1, 1, "white space");
	expect_syntax("ab{{}}", 1, HD_ETEMPLATE, 1, 3, "empty variable tag");
	expect_syntax("{{#a?}}{{/a?}}", 1, HD_ETEMPLATE, 1, 1,
		      "'?' marks optional variables only");
	expect_syntax("{{a..b}}", 1, HD_ETEMPLATE, 1, 1, "empty part");
	expect_syntax("{{?x}}", 1, HD_ETEMPLATE, 1, 1, "empty name");
	/* first_line applies */
	expect_syntax("line\n\n  {{#x}}", 20, HD_ETEMPLATE, 22, 3,
		      "unclosed section");
	/* a comment may hold anything but its closing delimiter */
	expect("a{{! {{#x \n }}b", "{}", 0, "ab");
}

static hd_status map_partial(void *ctx, const char *name, char **text,
			     size_t *len, hd_error *err)
{
	const char *const *map = ctx;

	*text = NULL;
	*len = 0;
	for (; map[0]; map += 2)
		if (strcmp(map[0], name) == 0) {
			if (!map[1])
				return hd_error_set(err, HD_EIO, name, 0, 0,
						    "cannot read");
			*text = strdup(map[1]);
			*len = strlen(map[1]);
			return *text ? HD_OK : HD_ENOMEM;
		}
	return HD_OK;
}

static void test_partials(void **state)
{
	const char *map[] = {
	    "p",    "1\n2\n",
	    "node", "{{name}}({{#kids}}{{>node}}{{/kids}})",
	    "loop", "{{>loop}}",
	    "bad",  "ok\n  {{#x}}",
	    "io",   NULL,
	    NULL,
	};
	hd_tmpl_opts o = {
	    .source = "main", .partial = map_partial, .partial_ctx = map};
	hd_tmpl *t;
	hd_buf b = HD_BUF_INIT;
	hd_error err;
	char *got;
	json_t *d;

	(void)state;
	assert_int_equal(
	    run("x\n  {{>p}}\ny{{>nothing}}", "{}", &o, NULL, &got, &err),
	    HD_OK);
	assert_string_equal(got, "x\n  1\n  2\ny");
	free(got);
	assert_int_equal(run("{{>node}}",
			     "{\"name\":\"a\",\"kids\":[{\"name\":\"b\","
			     "\"kids\":[]},{\"name\":\"c\",\"kids\":[]}]}",
			     &o, NULL, &got, &err),
			 HD_OK);
	assert_string_equal(got, "a(b()c())");
	free(got);
	/* endless recursion is stopped at render time */
	t = compile("{{>loop}}", &o);
	d = json_object();
	hd_error_clear(&err);
	assert_int_equal(hd_tmpl_render(t, d, NULL, &b, &err), HD_ELIMIT);
	assert_string_equal(err.file, "loop");
	assert_string_equal(err.field, "loop");
	assert_non_null(strstr(err.msg, "deeper than 64"));
	assert_int_equal(b.len, 0);
	hd_tmpl_free(t);
	json_decref(d);
	/* errors in a partial name the partial */
	t = (hd_tmpl *)1;
	assert_int_equal(hd_tmpl_compile("{{>bad}}", 8, &o, &t, &err),
			 HD_ETEMPLATE);
	assert_null(t);
	assert_string_equal(err.file, "bad");
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 3);
	/* the loader's errors propagate */
	assert_int_equal(hd_tmpl_compile("{{>io}}", 7, &o, &t, &err), HD_EIO);
	assert_string_equal(err.msg, "cannot read");
	/* strict mode reaches into partials */
	assert_int_equal(
	    run("\n{{>node}}", "{\"kids\":[]}", &o, NULL, &got, &err),
	    HD_EMISSING);
	assert_string_equal(err.file, "node");
	assert_string_equal(err.field, "name");
	free(got);
	hd_buf_free(&b);
}

static void test_inheritance_loop(void **state)
{
	const char *map[] = {"p", "{{$a}}{{/a}}", NULL};
	hd_tmpl_opts o = {
	    .source = "t", .partial = map_partial, .partial_ctx = map};
	hd_error err;
	char *got;

	(void)state;
	/* an override holding its own block would expand forever */
	assert_int_equal(run("{{<p}}{{$a}}x{{$a}}y{{/a}}{{/a}}{{/p}}", "{}", &o,
			     NULL, &got, &err),
			 HD_ELIMIT);
	assert_string_equal(err.field, "a");
	assert_non_null(strstr(err.msg, "nested deeper than 512"));
	free(got);
	assert_int_equal(
	    run("{{<p}}{{$a}}x{{/a}}{{/p}}", "{}", &o, NULL, &got, &err),
	    HD_OK);
	assert_string_equal(got, "x");
	free(got);
}

/* ---- limits and arguments ---------------------------------------------- */

static char *nested(int depth)
{
	hd_buf b = HD_BUF_INIT;

	for (int i = 0; i < depth; i++)
		hd_buf_puts(&b, "{{#a}}");
	hd_buf_puts(&b, "x");
	for (int i = 0; i < depth; i++)
		hd_buf_puts(&b, "{{/a}}");
	return hd_buf_detach(&b, NULL);
}

static void test_nesting_limit(void **state)
{
	char *ok = nested(64), *deep = nested(65);
	hd_tmpl *t = (hd_tmpl *)1;
	hd_error err;

	(void)state;
	expect(ok, "{\"a\":true}", 0, "x");
	hd_error_clear(&err);
	assert_int_equal(hd_tmpl_compile(deep, strlen(deep), NULL, &t, &err),
			 HD_ELIMIT);
	assert_null(t);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.column, 64 * 6 + 1);
	free(ok);
	free(deep);
}

static void test_size_limit(void **state)
{
	size_t n = (size_t)HD_TMPL_MAX_SIZE + 1;
	char *big = malloc(n);
	hd_tmpl *t = (hd_tmpl *)1;
	hd_error err;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', n);
	assert_int_equal(hd_tmpl_compile(big, n, NULL, &t, &err), HD_ELIMIT);
	assert_null(t);
	assert_int_equal(hd_tmpl_compile(big, n - 1, NULL, &t, &err), HD_OK);
	hd_tmpl_free(t);
	free(big);
}

/* A row's data decides how often sections repeat: nested sections over
 * long lists, or a partial that recurses twice, must stop with a limit,
 * not run for hours or fill the memory.  (Found by fuzz/fuzz_template.) */
static void test_work_and_output_limits(void **state)
{
	const char *map[] = {"two", "{{#x}}{{>two}}{{>two}}{{/x}}", NULL};
	hd_tmpl_opts o = {
	    .source = "t", .partial = map_partial, .partial_ctx = map};
	hd_buf list = HD_BUF_INIT, deep = HD_BUF_INIT;
	hd_error err;
	char *got;
	double t0;

	(void)state;
	/* 100^4 = 10^8 repetitions of a text: the output cap */
	hd_buf_puts(&list, "{\"l\": [");
	for (int i = 0; i < 100; i++)
		hd_buf_printf(&list, "%s%d", i ? "," : "", i);
	hd_buf_puts(&list, "]}");
	t0 = now();
	assert_int_equal(
	    run("{{#l}}{{#l}}{{#l}}{{#l}}0123456789012345678901234567"
		"890123456789012345678901234567890123{{/l}}{{/l}}"
		"{{/l}}{{/l}}",
		list.data, &o, NULL, &got, &err),
	    HD_ELIMIT);
	assert_non_null(strstr(err.msg, "more than 16 MiB"));
	assert_string_equal(got, "");
	free(got);
	/* the same without output: the work cap */
	assert_int_equal(run("{{#l}}{{#l}}{{#l}}{{#l}}{{! nothing }}{{/l}}"
			     "{{/l}}{{/l}}{{/l}}",
			     list.data, &o, NULL, &got, &err),
			 HD_ELIMIT);
	assert_non_null(strstr(err.msg, "more than 1000000 tags"));
	free(got);
	/* a partial recursing twice over data 40 levels deep: 2^40 */
	hd_buf_puts(&deep, "{");
	for (int i = 0; i < 40; i++)
		hd_buf_puts(&deep, "\"x\": {");
	hd_buf_puts(&deep, "\"x\": false");
	for (int i = 0; i <= 40; i++)
		hd_buf_puts(&deep, "}");
	assert_int_equal(run("{{>two}}", deep.data, &o, NULL, &got, &err),
			 HD_ELIMIT);
	free(got);
	/* measured, not asserted: printed for the curious */
	print_message("limits reached in %.2f s\n", now() - t0);
	/* 99 nested repetitions are far below both */
	expect("{{#l}}{{#l}}{{.}}{{/l}}{{/l}}", "{\"l\": [1, 2]}", 0, "1212");
	hd_buf_free(&list);
	hd_buf_free(&deep);
}

/* A literal template renders the same whatever the data: comments and
 * delimiter changes leave no tag behind; anything that reads the data is a
 * tag, even a partial that may not exist. */
static void test_is_literal(void **state)
{
	static const struct {
		const char *src;
		int literal;
	} cases[] = {
	    {"", 1},
	    {"Acme <billing@acme.example>", 1},
	    {"a {{! a comment }} b", 1},
	    {"{{=<% %>=}}plain <% ! note %>", 1},
	    {"{{x}}", 0},
	    {"Hi {{{x}}}", 0},
	    {"{{&x}}", 0},
	    {"{{x?}}", 0},
	    {"{{#a}}b{{/a}}", 0},
	    {"{{^a}}b{{/a}}", 0},
	    {"{{>p}}", 0},
	    {"{{=<% %>=}}<% x %>", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hd_tmpl_opts o = {.lenient = 1};
		hd_tmpl *t = compile(cases[i].src, &o);
		if (hd_tmpl_is_literal(t) != cases[i].literal)
			fail_msg("'%s': literal %d, want %d", cases[i].src,
				 hd_tmpl_is_literal(t), cases[i].literal);
		hd_tmpl_free(t);
	}
}

static void test_bad_args(void **state)
{
	hd_tmpl *t = (hd_tmpl *)1;
	hd_buf b = HD_BUF_INIT;
	hd_error err;

	(void)state;
	assert_int_equal(hd_tmpl_compile(NULL, 3, NULL, &t, &err), HD_EINVAL);
	assert_null(t);
	assert_int_equal(hd_tmpl_compile("x", 1, NULL, NULL, &err), HD_EINVAL);
	assert_int_equal(hd_tmpl_render(NULL, NULL, NULL, &b, &err), HD_EINVAL);
	assert_int_equal(hd_tmpl_compile(NULL, 0, NULL, &t, NULL), HD_OK);
	assert_int_equal(hd_tmpl_render(t, NULL, NULL, NULL, NULL), HD_EINVAL);
	assert_int_equal(hd_tmpl_render(t, NULL, NULL, &b, NULL), HD_OK);
	assert_int_equal(b.len, 0);
	hd_tmpl_free(t);
	hd_tmpl_free(NULL);
	/* errors need no hd_error to land in */
	assert_int_equal(hd_tmpl_compile("{{x}}", 5, NULL, &t, NULL), HD_OK);
	assert_int_equal(hd_tmpl_render(t, NULL, NULL, &b, NULL), HD_EMISSING);
	hd_tmpl_free(t);
	hd_buf_free(&b);
}

/* ---- threads and speed ------------------------------------------------- */

static const char email[] =
    "From: Acme Billing <billing@acme.example>\n"
    "To: {{name}} <{{email}}>\n"
    "Subject: Your invoice {{invoice.id}}\n"
    "\n"
    "Hello {{name}},\n"
    "\n"
    "Thank you for your order.  Your invoice is attached to this\n"
    "message; you can also find it in your account at any time.\n"
    "\n"
    "Amount due: {{invoice.total}}\n"
    "\n"
    "If you have questions about this invoice, reply to this message\n"
    "or call us on weekdays between 9:00 and 17:00.\n"
    "\n"
    "We appreciate your business.\n"
    "\n"
    "--\n"
    "Acme Corporation\n"
    "1 Example Road, Springfield\n"
    "https://acme.example/\n";

#define THREADS 8
#define RENDERS 10000

struct worker {
	const hd_tmpl *t;
	int id;
	int bad;
};

static void expected_email(char *out, size_t size, int id)
{
	snprintf(out, size,
		 "From: Acme Billing <billing@acme.example>\n"
		 "To: User &lt;%d&gt; <u%d@example.com>\n"
		 "Subject: Your invoice INV-%d\n"
		 "\n"
		 "Hello User &lt;%d&gt;,\n"
		 "\n"
		 "Thank you for your order.  Your invoice is attached to this\n"
		 "message; you can also find it in your account at any time.\n"
		 "\n"
		 "Amount due: %d.25\n"
		 "\n"
		 "If you have questions about this invoice, reply to this "
		 "message\n"
		 "or call us on weekdays between 9:00 and 17:00.\n"
		 "\n"
		 "We appreciate your business.\n"
		 "\n"
		 "--\n"
		 "Acme Corporation\n"
		 "1 Example Road, Springfield\n"
		 "https://acme.example/\n",
		 id, id, id, id, id);
}

static json_t *email_record(int id)
{
	char name[32], mail[64], inv[32];

	snprintf(name, sizeof(name), "User <%d>", id);
	snprintf(mail, sizeof(mail), "u%d@example.com", id);
	snprintf(inv, sizeof(inv), "INV-%d", id);
	return json_pack("{s:s, s:s, s:{s:s, s:f}}", "name", name, "email",
			 mail, "invoice", "id", inv, "total", id + 0.25);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	json_t *rec = email_record(w->id);
	char want[2048];
	hd_buf b = HD_BUF_INIT;
	hd_error err;
	size_t wl;

	expected_email(want, sizeof(want), w->id);
	wl = strlen(want);
	for (int i = 0; i < RENDERS; i++) {
		hd_buf_reset(&b);
		if (hd_tmpl_render(w->t, rec, NULL, &b, &err) != HD_OK ||
		    b.len != wl || memcmp(b.data, want, wl) != 0)
			w->bad++;
	}
	hd_buf_free(&b);
	json_decref(rec);
	return NULL;
}

static void test_threads(void **state)
{
	hd_tmpl_opts o = {.source = "email.eml"};
	hd_tmpl *t = compile(email, &o);
	pthread_t th[THREADS];
	struct worker w[THREADS];

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		w[i].t = t;
		w[i].id = i + 1;
		w[i].bad = 0;
		assert_int_equal(
		    pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	hd_tmpl_free(t);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_speed(void **state)
{
	hd_tmpl_opts o = {.source = "email.eml"};
	hd_tmpl *t = compile(email, &o);
	json_t *rec = email_record(42);
	hd_buf b = HD_BUF_INIT;
	char want[2048];
	double t0 = now(), el;
	long n = 0;

	(void)state;
	expected_email(want, sizeof(want), 42);
	/* about a third of a second, whatever the instrumentation */
	do {
		for (int i = 0; i < 1000; i++) {
			hd_buf_reset(&b);
			assert_int_equal(hd_tmpl_render(t, rec, NULL, &b, NULL),
					 HD_OK);
		}
		n += 1000;
		el = now() - t0;
	} while (el < 0.3);
	assert_string_equal(b.data, want);
	printf("speed: %.0f renders/s (20-line email, 5 tags, one thread)\n",
	       (double)n / el);
	hd_buf_free(&b);
	json_decref(rec);
	hd_tmpl_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strict_missing),
	    cmocka_unit_test(test_strict_first_column),
	    cmocka_unit_test(test_strict_null_and_dotted),
	    cmocka_unit_test(test_sections_never_missing),
	    cmocka_unit_test(test_lenient),
	    cmocka_unit_test(test_objects_are_not_values),
	    cmocka_unit_test(test_value_formats),
	    cmocka_unit_test(test_optional),
	    cmocka_unit_test(test_escaper_errors),
	    cmocka_unit_test(test_custom_escapers),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_partials),
	    cmocka_unit_test(test_inheritance_loop),
	    cmocka_unit_test(test_nesting_limit),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_work_and_output_limits),
	    cmocka_unit_test(test_is_literal),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_speed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

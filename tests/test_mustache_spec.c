/*
 * test_mustache_spec.c — the official Mustache spec against lib/template.c.
 *
 * Reads every file of $HERALD_TESTDATA/mustache-spec/specs (each a JSON
 * object whose "tests" hold data, template, expected and maybe partials),
 * renders each test in lenient mode with the default HTML escaping and
 * compares the output byte for byte.  Required modules must all pass;
 * optional ones ("~" files) are reported but do not fail the test.
 * ~lambdas.json is skipped: lambdas are code, and records hold data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "template.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REQUIRED_TESTS 136

static char specdir[4096];

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* $HERALD_TESTDATA, else ../shared/testdata beside $HERALD_SRC or cwd. */
static int find_specs(void)
{
	const char *td = getenv("HERALD_TESTDATA");
	const char *src = getenv("HERALD_SRC");

	if (td && *td) {
		snprintf(specdir, sizeof(specdir), "%s/mustache-spec/specs",
			 td);
		if (is_dir(specdir))
			return 1;
	}
	if (src && *src) {
		snprintf(specdir, sizeof(specdir),
			 "%s/../shared/testdata/mustache-spec/specs", src);
		if (is_dir(specdir))
			return 1;
	}
	snprintf(specdir, sizeof(specdir),
		 "../shared/testdata/mustache-spec/specs");
	return is_dir(specdir);
}

/* Partials of one test: a JSON object from name to text. */
static hd_status spec_partial(void *ctx, const char *name, char **text,
			      size_t *len, hd_error *err)
{
	json_t *p = json_object_get((json_t *)ctx, name);

	(void)err;
	*text = NULL;
	*len = 0;
	if (!json_is_string(p))
		return HD_OK;
	*len = json_string_length(p);
	*text = malloc(*len + 1);
	if (!*text)
		return HD_ENOMEM;
	memcpy(*text, json_string_value(p), *len + 1);
	return HD_OK;
}

static void show(const char *label, const char *s, size_t n)
{
	fprintf(stderr, "      %s: \"", label);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c < 0x20)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

/* Runs one test; 1 when the output is exactly the expected text. */
static int run_case(const char *file, json_t *tc)
{
	const char *name = json_string_value(json_object_get(tc, "name"));
	json_t *tpl = json_object_get(tc, "template");
	json_t *exp = json_object_get(tc, "expected");
	json_t *partials = json_object_get(tc, "partials");
	hd_tmpl_opts o = {0};
	hd_tmpl *t = NULL;
	hd_buf out = HD_BUF_INIT;
	hd_error err;
	hd_status st;
	int ok;

	if (!json_is_string(tpl) || !json_is_string(exp)) {
		fprintf(stderr, "  %s: '%s': malformed test\n", file,
			name ? name : "?");
		return 0;
	}
	o.source = "template";
	o.lenient = 1;
	o.partial = spec_partial;
	o.partial_ctx = partials;
	hd_error_clear(&err);
	st = hd_tmpl_compile(json_string_value(tpl), json_string_length(tpl),
			     &o, &t, &err);
	if (st == HD_OK)
		st = hd_tmpl_render(t, json_object_get(tc, "data"), NULL, &out,
				    &err);
	ok = st == HD_OK && out.len == json_string_length(exp) &&
	     (out.len == 0 ||
	      memcmp(out.data, json_string_value(exp), out.len) == 0);
	if (!ok) {
		char msg[1024];
		fprintf(stderr, "  FAIL %s: '%s'\n", file, name ? name : "?");
		show("template", json_string_value(tpl),
		     json_string_length(tpl));
		show("expected", json_string_value(exp),
		     json_string_length(exp));
		if (st == HD_OK) {
			show("got     ", out.data ? out.data : "", out.len);
		} else {
			hd_error_format(&err, msg, sizeof(msg));
			fprintf(stderr, "      error: %s\n", msg);
		}
	}
	hd_buf_free(&out);
	hd_tmpl_free(t);
	return ok;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct totals {
	int req_pass, req_fail, opt_pass, opt_fail, files;
};

static void run_all(struct totals *tot)
{
	DIR *d = opendir(specdir);
	struct dirent *de;
	char *names[64];
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < 64) {
		size_t l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	memset(tot, 0, sizeof(*tot));
	for (size_t i = 0; i < n; i++) {
		char path[8192];
		json_error_t jerr;
		json_t *spec, *tests;
		int optional = names[i][0] == '~', pass = 0, fail = 0;

		if (strcmp(names[i], "~lambdas.json") == 0) {
			printf("%s: skipped (lambdas are code; records hold "
			       "data)\n",
			       names[i]);
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", specdir, names[i]);
		spec = json_load_file(path, 0, &jerr);
		if (!spec)
			fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
		tests = json_object_get(spec, "tests");
		assert_true(json_is_array(tests));
		for (size_t k = 0; k < json_array_size(tests); k++) {
			if (run_case(names[i], json_array_get(tests, k)))
				pass++;
			else
				fail++;
		}
		printf("%s: %d/%d%s\n", names[i], pass, pass + fail,
		       optional ? " (optional)" : "");
		if (optional) {
			tot->opt_pass += pass;
			tot->opt_fail += fail;
		} else {
			tot->req_pass += pass;
			tot->req_fail += fail;
		}
		tot->files++;
		json_decref(spec);
		free(names[i]);
	}
}

static void test_spec(void **state)
{
	struct totals tot;

	(void)state;
	run_all(&tot);
	printf("mustache spec required: %d passed, %d failed\n", tot.req_pass,
	       tot.req_fail);
	printf("mustache spec optional (~inheritance, ~dynamic-names): %d "
	       "passed, %d failed\n",
	       tot.opt_pass, tot.opt_fail);
	fflush(stdout);
	assert_int_equal(tot.req_fail, 0);
	/* the corpus must really have been read: all required tests ran */
	assert_int_equal(tot.req_pass, REQUIRED_TESTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spec),
	};

	if (!find_specs()) {
		fprintf(stderr, "SKIPPED: mustache spec not found (set "
				"HERALD_TESTDATA to the folder holding "
				"mustache-spec/specs)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_template.c — the Mustache compiler and renderer (lib/template.c),
 * strict and lenient, with partials.
 *
 * Input: a flags byte, then parts split at NUL bytes:
 *   part 0      the template
 *   part 1      the data, JSON (when it does not parse, a built-in record
 *               with nested objects, arrays, empty values and specials)
 *   part 2..11  partials named p0..p9 ({{>p0}}, or {{>*name}} with
 *               "name": "p0" in the data)
 * flags bit 0: lenient; bits 1-3: the escaper for {{x}} (HTML, text,
 * header, URL, form, JSON, HTML as herald's escape.c, raw header); bit 4:
 * {{{x}}} as text (valid UTF-8) instead of as is.
 *
 * Promises checked: compile and render fail only with their documented
 * codes, as one printable line; a failed render leaves the output as it
 * was; rendering twice gives the same bytes; the output stays within
 * HD_TMPL_MAX_OUTPUT.
 */
#include "escape.h"
#include "fuzz.h"
#include "template.h"

#include <stdlib.h>
#include <string.h>

#define NPARTIALS 10

static const hd_escape_fn escapers[8] = {
    NULL,	    hd_escape_text, hd_escape_header, hd_escape_url,
    hd_escape_form, hd_escape_json, hd_escape_html,   hd_escape_raw_header,
};

static const char default_data[] =
    "{\"a\": \"x\", \"b\": [1, 2, {\"c\": \"<&>\\\"'\"}], \"o\": {\"p\": "
    "{\"q\": true, \"r\": \"deep\"}}, \"e\": \"\", \"n\": null, \"z\": 0, "
    "\"f\": 1.5, \"t\": true, \"name\": \"p0\", \"list\": [\"x\", \"\", "
    "null, {\"name\": \"p1\"}, [1, [2]]], \"s\": \"line\\r\\nBcc: "
    "v@evil.example\", \"u\": \"Zo\\u00eb \\ud83c\\udf89\"}";

/* The partials of the current input. */
static struct {
	const uint8_t *p;
	size_t n;
	int present;
} partials[NPARTIALS];

static hd_status load_partial(void *ctx, const char *name, char **text,
			      size_t *len, hd_error *err)
{
	(void)ctx;
	(void)err;
	*text = NULL;
	*len = 0;
	if (name[0] != 'p' || name[1] < '0' || name[1] > '9' || name[2])
		return HD_OK;
	if (!partials[name[1] - '0'].present)
		return HD_OK;
	*len = partials[name[1] - '0'].n;
	*text = malloc(*len + 1);
	if (!*text)
		fuzz_fail("out of memory");
	if (*len)
		memcpy(*text, partials[name[1] - '0'].p, *len);
	(*text)[*len] = '\0';
	return HD_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const hd_status compile_codes[] = {HD_ETEMPLATE, HD_ELIMIT};
	static const hd_status render_codes[] = {HD_EMISSING, HD_EINVAL,
						 HD_ELIMIT,   HD_EUTF8,
						 HD_EHEADER,  HD_ETEMPLATE};
	const uint8_t *tmpl, *rest, *part, *next;
	size_t tlen, rlen, plen, nlen;
	unsigned flags;
	hd_tmpl_opts o = {0};
	hd_tmpl_render_opts ro = {0};
	hd_tmpl *t = NULL;
	json_t *record = NULL;
	hd_buf a = HD_BUF_INIT, b = HD_BUF_INIT;
	hd_error err;
	hd_status rc, rc2;

	if (size == 0)
		return 0;
	flags = data[0];
	fuzz_split(data + 1, size - 1, &tmpl, &tlen, &rest, &rlen);
	memset(partials, 0, sizeof(partials));
	if (rest) {
		fuzz_split(rest, rlen, &part, &plen, &next, &nlen);
		record = json_loadb((const char *)part, plen,
				    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		for (int i = 0; i < NPARTIALS && next; i++) {
			fuzz_split(next, nlen, &part, &plen, &next, &nlen);
			partials[i].p = part;
			partials[i].n = plen;
			partials[i].present = 1;
		}
	}
	if (!record)
		record = json_loads(default_data, 0, NULL);
	FUZZ_ASSERT(record != NULL, "the built-in data does not parse");

	o.source = "fuzz.tmpl";
	o.first_line = 3;
	o.lenient = flags & 1;
	o.partial = load_partial;
	rc = hd_tmpl_compile((const char *)tmpl, tlen, &o, &t, &err);
	if (rc != HD_OK) {
		FUZZ_CHECK_FAILURE(&err, rc, "compile", compile_codes);
		FUZZ_ASSERT(t == NULL,
			    "a failed compile handed out a template");
		goto out;
	}
	ro.escape = escapers[(flags >> 1) & 7];
	ro.raw = flags & 16 ? hd_escape_text : NULL;
	ro.row = 7;
	hd_buf_puts(&a, "kept:");
	hd_buf_puts(&b, "kept:");
	rc = hd_tmpl_render(t, record, &ro, &a, &err);
	if (rc != HD_OK) {
		FUZZ_CHECK_FAILURE(&err, rc, "render", render_codes);
		FUZZ_ASSERT(a.len == 5 && memcmp(a.data, "kept:", 5) == 0,
			    "a failed render left %zu bytes", a.len);
	} else {
		FUZZ_ASSERT(a.len - 5 <= (size_t)HD_TMPL_MAX_OUTPUT,
			    "%zu bytes of output", a.len - 5);
	}
	rc2 = hd_tmpl_render(t, record, &ro, &b, NULL);
	FUZZ_ASSERT(rc2 == rc && a.len == b.len &&
			memcmp(a.data, b.data, a.len) == 0,
		    "a second render differs (%s, %zu bytes; then %s, %zu)",
		    hd_status_name(rc), a.len, hd_status_name(rc2), b.len);
out:
	hd_tmpl_free(t);
	json_decref(record);
	hd_buf_free(&a);
	hd_buf_free(&b);
	return 0;
}

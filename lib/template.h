/*
 * template.h — Mustache templates: compile once, render many times.
 *
 * DESCRIPTION
 *   A template is parsed once by hd_tmpl_compile() into an immutable tree;
 *   hd_tmpl_render() walks that tree against one record (a jansson value:
 *   JSON records are objects, CSV rows are objects of strings) and appends
 *   the text to an hd_buf.  The message builders compile each part of a
 *   message template (a header value, the body) on its own, so the compiler
 *   takes the line (and column) where the part starts in its file and
 *   reports every error at its place in that file.
 *
 *   The language is Mustache as the official spec defines it: the required
 *   modules (interpolation, sections, inverted sections, comments, partials,
 *   set delimiters, standalone lines) and two optional ones, inheritance
 *   ({{<parent}} ... {{$block}}default{{/block}} ... {{/parent}}) and
 *   dynamic names ({{>*name}}, {{<*name}}).  Lambdas are not supported: a
 *   record holds data, never code.
 *
 * NAMES AND VALUES
 *   {{a.b.c}} looks "a" up in the context stack from the innermost section
 *   outwards (the first object that has the key wins), then "b" and "c"
 *   inside that value only.  {{.}} is the innermost context itself.
 *   Strings render as they are, integers in decimal, reals in the shortest
 *   form that reads back to the same double (1.21 -> "1.21"), true and
 *   false as "true" and "false".
 *   Sections: null, false, "", 0, 0.0, [] and missing names are falsy; an
 *   array repeats the section for each element; any other value is pushed
 *   once.
 *
 * STRICT MODE (herald's default) AND THE '?' MARKER
 *   A notification that says "Hello ," is a bug, so by default a variable
 *   tag whose name cannot be resolved (a missing key anywhere along a dotted
 *   name, JSON null, or the empty string — a CSV cell cannot say null)
 *   fails the render with HD_EMISSING, and a variable
 *   naming an object or array fails with HD_EINVAL.  Sections and inverted
 *   sections over missing names are simply falsy, in both modes.
 *   herald's extension: a trailing '?' on a variable's name makes it
 *   optional.  {{nickname?}} renders nothing when nickname is missing,
 *   null or empty; {{nickname?there}} renders the fallback "there" (the text
 * after the '?', taken literally, escaped like a value) when nickname is
 *   missing, null or the empty string.  It works in {{{x?}}}, {{&x?}} and
 *   with dotted names ({{a.b?}}).  A name never contains '?', and '?' is
 *   refused on section tags.  Names may not contain white space.
 *   Lenient mode (opts.lenient = 1) renders unresolved names and
 *   objects/arrays as empty, as the spec says.
 *
 * PARTIALS
 *   {{>name}} and {{<name}} are loaded through opts.partial at compile time
 *   (each name once: recursive partials work) and compiled with the default
 *   delimiters.  A missing partial renders empty.  Errors inside a partial
 *   name the partial as the file.  Dynamic names ({{>*field}}) are only
 *   known at render time: the name is first looked up among the partials
 *   loaded at compile time, then opts.partial is called from the rendering
 *   thread and the partial compiled for that one render, so a template that
 *   uses them needs a thread-safe callback that outlives it.
 *
 * LIMITS
 *   Each template or partial text: HD_TMPL_MAX_SIZE bytes; sections nested
 *   HD_TMPL_MAX_NESTING deep in one text (compile); partials and parents
 *   HD_TMPL_MAX_PARTIAL_DEPTH deep and sections, partials and blocks
 *   together HD_TMPL_MAX_RENDER_DEPTH deep while rendering (this bounds the
 *   C stack a render uses).  One render writes at most HD_TMPL_MAX_OUTPUT
 *   bytes and renders at most HD_TMPL_MAX_WORK tags and texts, so no row's
 *   data can make sections nested over long lists (or partials that
 *   recurse twice) run for hours or fill the memory.  Beyond a limit:
 *   HD_ELIMIT.
 *
 * OWNERSHIP AND THREADS
 *   hd_tmpl_compile() copies the text and opts->source; the caller keeps
 *   its own.  The compiled template holds no mutable state, so one template
 *   may be rendered by any number of threads at once, each with its own
 *   output buffer (data is only read; its reference counts are untouched).
 *   hd_tmpl_free() must not race with renders.
 */
#ifndef HD_TEMPLATE_H
#define HD_TEMPLATE_H

#include "buf.h"
#include "herald.h"

#include <jansson.h>
#include <stddef.h>

#define HD_TMPL_MAX_SIZE (1L << 20)    /* bytes of one template or partial */
#define HD_TMPL_MAX_NESTING 64	       /* open sections in one text */
#define HD_TMPL_MAX_PARTIAL_DEPTH 64   /* partials within partials */
#define HD_TMPL_MAX_RENDER_DEPTH 512   /* sections+partials+blocks */
#define HD_TMPL_MAX_PARTIALS 1024      /* distinct partials per template */
#define HD_TMPL_MAX_OUTPUT (16L << 20) /* bytes one render may write */
#define HD_TMPL_MAX_WORK 1000000UL     /* nodes one render may visit */

typedef struct hd_tmpl hd_tmpl;

/* Loads a partial's source by name; sets *text (malloc'd, the caller frees)
 * and *len, or *text = NULL when there is no such partial.  An error it
 * returns fails the compile (or the render, for a dynamic name). */
typedef hd_status (*hd_partial_fn)(void *ctx, const char *name, char **text,
				   size_t *len, hd_error *err);

typedef struct hd_tmpl_opts {
	const char *source; /* name used in errors (the template file path) */
	long first_line;    /* line of text[0] in that file; 0 means 1 */
	long first_column;  /* column of text[0] on that line; 0 means 1 */
	int lenient;	    /* 1: unresolved names render empty (the spec);
			       0: strict (herald's default) */
	hd_partial_fn partial; /* NULL: every partial is missing */
	void *partial_ctx;
} hd_tmpl_opts;

typedef struct hd_tmpl_render_opts {
	hd_escape_fn escape; /* for {{x}}; NULL: HTML (& " < > as entities) */
	hd_escape_fn raw;    /* for {{{x}}} and {{&x}}; NULL: as is */
	long row;	     /* record number, copied into errors */
} hd_tmpl_render_opts;

/* Parses text[0..len) into *out.  opts may be NULL (strict, no partials).
 * Syntax errors (unclosed tag, unclosed or mismatched section, bad
 * delimiter change, bad name) give HD_ETEMPLATE with err->file = source
 * and the line and column of the offending tag in that file. */
hd_status hd_tmpl_compile(const char *text, size_t len,
			  const hd_tmpl_opts *opts, hd_tmpl **out,
			  hd_error *err);

/* Renders t against data (borrowed, may be NULL), appending to out.  ro may
 * be NULL (HTML escaping, row 0).  On failure out is cut back to the length
 * it had, and err names the tag (field), its line and column, and ro->row;
 * an escaper's own code and message are kept.  Thread-safe. */
hd_status hd_tmpl_render(const hd_tmpl *t, json_t *data,
			 const hd_tmpl_render_opts *ro, hd_buf *out,
			 hd_error *err);

/* A tag, as hd_tmpl_walk shows it. */
typedef enum hd_tmpl_tag_kind {
	HD_TMPL_VARIABLE = 1, /* {{x}}, {{{x}}}, {{&x}} */
	HD_TMPL_SECTION,      /* {{#x}} */
	HD_TMPL_INVERTED,     /* {{^x}} */
} hd_tmpl_tag_kind;

typedef struct hd_tmpl_tag {
	hd_tmpl_tag_kind kind;
	const char *name; /* as written without '?': "a.b.c" or "." */
	const char *head; /* its first part ("a"), head_len bytes, not
			     NUL-terminated; NULL for "." */
	size_t head_len;
	unsigned nparts;  /* parts of the name; 0 for "." */
	int optional;	  /* {{x?}} */
	const char *file; /* the template's source name, or the partial's */
	long line, column;
} hd_tmpl_tag;

/* Called for each tag in template order.  For a section or an inverted
 * section the return value says whether to walk into it (non-zero) or
 * pass over what it holds; for a variable it is not looked at. */
typedef int (*hd_tmpl_walk_fn)(void *ctx, const hd_tmpl_tag *tag);

/* Shows fn every variable and section tag of t and of the partials it
 * includes by name (each once along a path, so recursive partials end),
 * in template order.  Partials named by data ({{>*x}}), parents
 * ({{<x}}) and blocks ({{$x}}) are passed over: what they render is
 * known only when a row is rendered.  The strings live as long as t. */
void hd_tmpl_walk(const hd_tmpl *t, hd_tmpl_walk_fn fn, void *ctx);

/* 1 when t is text only, without a single tag that renders (comments and
 * delimiter changes do not): it renders the same whatever the data. */
int hd_tmpl_is_literal(const hd_tmpl *t);

/* For a template of text and escaped variables only ({{x}}, {{x?y}}, not
 * {{{x}}}, sections or partials): appends its text without the tags to
 * text, and sets *at (malloc'd, *nat of them, ascending) to the offsets
 * in text where each tag's value goes; returns 1.  Every rendering of t
 * is that text with an escaped value (maybe empty) at each offset.
 * Returns 0 for any other template, -1 when memory ran out; *at is then
 * NULL. */
int hd_tmpl_flatten(const hd_tmpl *t, hd_buf *text, size_t **at, size_t *nat);

/* Frees t; NULL is allowed. */
void hd_tmpl_free(hd_tmpl *t);

#endif

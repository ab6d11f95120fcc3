/*
 * template.c — Mustache compile + render.
 *
 * Compiling runs four passes over one text (the template or a partial):
 *   1. tokenize: split into text and tags, following delimiter changes;
 *   2. match:    pair every {{/x}} with its opening tag (syntax errors);
 *   3. standalone: find lines holding only one block-kind tag and white
 *      space, and trim that white space and the line end from the texts;
 *   4. build:    turn the tokens into a tree of nodes.
 * Partials named by the text are loaded as they are met and compiled after
 * it, from a work list, so recursive partials need no recursion here.
 *
 * Rendering walks the tree.  The context stack, the indentation of
 * standalone partials and the block overrides of parent tags are linked
 * lists on the C stack, so a render allocates nothing but output.
 */
#include "template.h"

#include "source.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPOS ((size_t)-1)
#define MAX_DELIM 16 /* bytes of a delimiter set by {{=a b=}} */
#define MAX_NAME_SHOWN 64

enum node_kind {
	N_TEXT,	    /* literal bytes */
	N_VAR,	    /* {{x}}: escaped */
	N_RAW,	    /* {{{x}}}, {{&x}}: raw */
	N_SECTION,  /* {{#x}}...{{/x}} */
	N_INVERTED, /* {{^x}}...{{/x}} */
	N_PARTIAL,  /* {{>x}} */
	N_PARENT,   /* {{<x}}...{{/x}}: a partial with block overrides */
	N_BLOCK,    /* {{$x}}...{{/x}}: overridable default content */
};

/* What each tag sigil means: the table the tokenizer and the standalone
 * pass read.  'v' stands for a plain variable (no sigil). */
struct tag_kind {
	char sigil;
	unsigned char standalone; /* may stand alone on its line */
	unsigned char opens;	  /* is closed by {{/name}} */
	signed char node;	  /* node kind made, -1 for none */
	const char *what;	  /* for messages */
};

static const struct tag_kind tag_kinds[] = {
    {'v', 0, 0, N_VAR, "variable"},
    {'&', 0, 0, N_RAW, "raw variable"},
    {'{', 0, 0, N_RAW, "raw variable"},
    {'#', 1, 1, N_SECTION, "section"},
    {'^', 1, 1, N_INVERTED, "inverted section"},
    {'/', 1, 0, -1, "end of section"},
    {'!', 1, 0, -1, "comment"},
    {'=', 1, 0, -1, "delimiter change"},
    {'>', 1, 0, N_PARTIAL, "partial"},
    {'<', 1, 1, N_PARENT, "parent"},
    {'$', 1, 1, N_BLOCK, "block"},
};

static const struct tag_kind *kind_of(char sigil)
{
	for (size_t i = 0; i < sizeof(tag_kinds) / sizeof(tag_kinds[0]); i++)
		if (tag_kinds[i].sigil == sigil)
			return &tag_kinds[i];
	return NULL;
}

struct part {
	const char *s;
	size_t n;
};

struct unit;

struct node {
	unsigned char kind;
	unsigned char standalone; /* the tag's line was removed */
	unsigned char optional;	  /* {{x?}} */
	unsigned char dynamic;	  /* {{>*x}} */
	unsigned nparts;	  /* 0: the name is "." */
	long line, column;	  /* in the file (offsets applied) */
	const char *text;	  /* N_TEXT: bytes in the unit's source;
				     else the name, owned, NUL-terminated */
	size_t len;
	struct part *parts;   /* the name split on '.', into text */
	const char *fallback; /* {{x?fallback}}: in the unit's source */
	size_t fallback_len;
	struct node *kids; /* sections, blocks, parents */
	size_t nkids;
	struct unit *unit;  /* partial, parent: its text; NULL if dynamic */
	const char *indent; /* standalone partial/parent: white space before */
	size_t indent_len;
	const char *reindent; /* block: indentation of overriding lines */
	size_t reindent_len;
};

/* One compiled text: the template itself or one partial. */
struct unit {
	char *name;	  /* partial name; NULL for the template */
	const char *file; /* for errors: the template's source or name */
	char *src;	  /* owned copy of the text */
	size_t len;
	long line0, col0; /* where src[0] sits in file */
	int missing;	  /* a partial the callback did not find */
	struct node *nodes;
	size_t count;
};

struct hd_tmpl {
	char *source;
	int lenient;
	hd_partial_fn partial;
	void *partial_ctx;
	struct unit **units; /* [0] is the template, then the partials */
	size_t nunits, cap;
};

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* First occurrence of pat[0..m) in s[from..len), or NPOS. */
static size_t find(const char *s, size_t from, size_t len, const char *pat,
		   size_t m)
{
	while (from < len && len - from >= m) {
		const char *p = memchr(s + from, pat[0], len - from - m + 1);
		if (!p)
			return NPOS;
		if (memcmp(p, pat, m) == 0)
			return (size_t)(p - s);
		from = (size_t)(p - s) + 1;
	}
	return NPOS;
}

static long file_line(const struct unit *u, long line)
{
	return u->line0 + line - 1;
}

static long file_col(const struct unit *u, long line, long col)
{
	return line == 1 ? u->col0 + col - 1 : col;
}

HD_PRINTF(6, 7)
static hd_status syntax(hd_error *err, const struct unit *u, long line,
			long col, hd_status code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hd_error_vset(err, code, u->file, file_line(u, line),
		      file_col(u, line, col), fmt, ap);
	va_end(ap);
	return code;
}

/* ---- pass 1: tokens ---------------------------------------------------- */

struct tok {
	char kind;   /* 0 text, 'v' variable, else the sigil */
	char closes; /* '/': the sigil of the tag it closes */
	unsigned char standalone;
	size_t start, end;   /* the whole token */
	size_t cstart, cend; /* tag content after the sigil, trimmed */
	size_t tstart, tend; /* text kept after standalone trimming */
	size_t ind, indlen;  /* standalone: white space before it */
	long line, col;
};

struct tokv {
	struct tok *v;
	size_t n, cap;
};

static hd_status tok_push(struct tokv *tv, const struct tok *t)
{
	if (tv->n == tv->cap) {
		size_t cap = tv->cap ? tv->cap * 2 : 64;
		struct tok *v = realloc(tv->v, cap * sizeof(*v));
		if (!v)
			return HD_ENOMEM;
		tv->v = v;
		tv->cap = cap;
	}
	tv->v[tv->n++] = *t;
	return HD_OK;
}

static hd_status push_text(struct tokv *tv, size_t a, size_t b)
{
	struct tok t = {0};

	t.start = t.tstart = a;
	t.end = t.tend = b;
	return tok_push(tv, &t);
}

/* {{=open close=}}: two runs of non-blank bytes. */
static int parse_delims(const char *s, size_t a, size_t b, size_t *o,
			size_t *ol, size_t *c, size_t *cl)
{
	size_t p = a;

	while (p < b && !is_ws(s[p]))
		p++;
	*o = a;
	*ol = p - a;
	while (p < b && is_ws(s[p]))
		p++;
	*c = p;
	while (p < b && !is_ws(s[p]))
		p++;
	*cl = p - *c;
	return p == b && *ol > 0 && *cl > 0 && *ol <= MAX_DELIM &&
	       *cl <= MAX_DELIM;
}

static hd_status tokenize(const struct unit *u, struct tokv *tv, hd_error *err)
{
	const char *s = u->src;
	size_t len = u->len, pos = 0, lpos = 0, bol = 0;
	size_t ot = NPOS, otl = 2, ct = NPOS, ctl = 2; /* NPOS: "{{" "}}" */
	long line = 1;

	while (pos < len) {
		char close[MAX_DELIM + 2];
		const char *open = ot == NPOS ? "{{" : s + ot;
		const char *cls = ct == NPOS ? "}}" : s + ct;
		struct tok t = {0};
		size_t o, p, e, cll;

		o = find(s, pos, len, open, otl);
		if (o == NPOS)
			return push_text(tv, pos, len);
		if (o > pos && push_text(tv, pos, o) != HD_OK)
			return HD_ENOMEM;
		for (; lpos < o; lpos++)
			if (s[lpos] == '\n') {
				line++;
				bol = lpos + 1;
			}
		t.line = line;
		t.col = (long)(o - bol) + 1;
		t.start = o;
		p = o + otl;
		while (p < len && is_blank(s[p]))
			p++;
		t.kind = 'v';
		if (p < len && s[p] && s[p] != 'v' && kind_of(s[p])) {
			t.kind = s[p];
			p++;
		}
		cll = 0;
		if (t.kind == '{' || t.kind == '=')
			close[cll++] = t.kind == '{' ? '}' : '=';
		memcpy(close + cll, cls, ctl);
		cll += ctl;
		e = find(s, p, len, close, cll);
		if (e == NPOS)
			return syntax(err, u, t.line, t.col, HD_ETEMPLATE,
				      "unclosed tag: no '%.*s' after '%.*s'",
				      (int)cll, close, (int)otl, open);
		t.end = e + cll;
		while (p < e && is_ws(s[p]))
			p++;
		while (e > p && is_ws(s[e - 1]))
			e--;
		t.cstart = p;
		t.cend = e;
		if (t.kind == '=') {
			size_t no, nol, nc, ncl;
			if (!parse_delims(s, p, e, &no, &nol, &nc, &ncl))
				return syntax(
				    err, u, t.line, t.col, HD_ETEMPLATE,
				    "bad delimiter change: want two "
				    "delimiters of 1 to %d bytes without "
				    "white space, as in {{=<%% %%>=}}",
				    MAX_DELIM);
			ot = no;
			otl = nol;
			ct = nc;
			ctl = ncl;
		} else if (t.kind != '!' && p == e) {
			return syntax(err, u, t.line, t.col, HD_ETEMPLATE,
				      "empty %s tag", kind_of(t.kind)->what);
		}
		if (tok_push(tv, &t) != HD_OK)
			return HD_ENOMEM;
		pos = t.end;
	}
	return HD_OK;
}

/* ---- pass 2: matching -------------------------------------------------- */

static int same_content(const char *s, const struct tok *a, const struct tok *b)
{
	return a->cend - a->cstart == b->cend - b->cstart &&
	       memcmp(s + a->cstart, s + b->cstart, a->cend - a->cstart) == 0;
}

static hd_status match(const struct unit *u, struct tokv *tv, hd_error *err)
{
	size_t stack[HD_TMPL_MAX_NESTING];
	size_t depth = 0;
	const char *s = u->src;

	for (size_t i = 0; i < tv->n; i++) {
		struct tok *t = &tv->v[i];
		const struct tag_kind *k = t->kind ? kind_of(t->kind) : NULL;

		if (k && k->opens) {
			if (depth == HD_TMPL_MAX_NESTING)
				return syntax(err, u, t->line, t->col,
					      HD_ELIMIT,
					      "sections nested deeper than %d",
					      HD_TMPL_MAX_NESTING);
			stack[depth++] = i;
		} else if (t->kind == '/') {
			const struct tok *o;
			int n = (int)(t->cend - t->cstart);
			if (n > MAX_NAME_SHOWN)
				n = MAX_NAME_SHOWN;
			if (!depth)
				return syntax(err, u, t->line, t->col,
					      HD_ETEMPLATE,
					      "{{/%.*s}} closes no section", n,
					      s + t->cstart);
			o = &tv->v[stack[--depth]];
			if (!same_content(s, o, t)) {
				int m = (int)(o->cend - o->cstart);
				if (m > MAX_NAME_SHOWN)
					m = MAX_NAME_SHOWN;
				return syntax(
				    err, u, t->line, t->col, HD_ETEMPLATE,
				    "{{/%.*s}} does not close "
				    "{{%c%.*s}} opened on line %ld",
				    n, s + t->cstart, o->kind, m, s + o->cstart,
				    file_line(u, o->line));
			}
			t->closes = o->kind;
		}
	}
	if (depth) {
		const struct tok *o = &tv->v[stack[depth - 1]];
		int m = (int)(o->cend - o->cstart);
		if (m > MAX_NAME_SHOWN)
			m = MAX_NAME_SHOWN;
		return syntax(err, u, o->line, o->col, HD_ETEMPLATE,
			      "unclosed section {{%c%.*s}}: no {{/%.*s}}",
			      o->kind, m, s + o->cstart, m, s + o->cstart);
	}
	return HD_OK;
}

/* ---- pass 3: standalone lines ------------------------------------------ */

/* Several tags may share a standalone line only when they are parent and
 * block tags and a parent is among them (the inheritance spec's
 * "{{<parent}}{{$block}}" lines); otherwise a standalone line holds one
 * tag, as the required spec modules say. */
static int group_ok(const struct tokv *tv, size_t a, size_t b)
{
	size_t tags = 0;
	int parent = 0, other = 0;

	for (size_t i = a; i <= b; i++) {
		const struct tok *t = &tv->v[i];
		if (!t->kind)
			continue;
		tags++;
		if (t->kind == '<' || (t->kind == '/' && t->closes == '<'))
			parent = 1;
		else if (t->kind != '$' &&
			 !(t->kind == '/' && t->closes == '$'))
			other = 1;
	}
	return tags == 1 || (parent && !other);
}

/* Is tag i alone on its line (but for white space and, see group_ok, other
 * tags)?  Sets the line [*ls, *le) (le past the newline) and the first and
 * last token on it. */
static int standalone_line(const struct unit *u, const struct tokv *tv,
			   size_t i, size_t *ls, size_t *le, size_t *first,
			   size_t *last)
{
	const char *s = u->src;
	size_t j;

	*ls = 0;
	for (j = i; j-- > 0;) {
		const struct tok *t = &tv->v[j];
		size_t p;
		if (t->kind) {
			if (!kind_of(t->kind)->standalone)
				return 0;
			continue;
		}
		for (p = t->end; p > t->start && is_blank(s[p - 1]); p--)
			;
		if (p == t->start)
			continue;
		if (s[p - 1] != '\n')
			return 0;
		*ls = p;
		break;
	}
	*first = j == NPOS ? 0 : j;
	if (j != NPOS && tv->v[j].end == *ls)
		*first = j + 1;
	*le = u->len;
	for (j = i + 1; j < tv->n; j++) {
		const struct tok *t = &tv->v[j];
		size_t p;
		if (t->kind) {
			if (!kind_of(t->kind)->standalone)
				return 0;
			continue;
		}
		for (p = t->start; p < t->end && is_blank(s[p]); p++)
			;
		if (p == t->end)
			continue;
		if (s[p] == '\r' && p + 1 < t->end)
			p++;
		if (s[p] != '\n')
			return 0;
		*le = p + 1;
		break;
	}
	*last = j < tv->n ? j : tv->n - 1;
	return group_ok(tv, *first, *last);
}

static void standalone(const struct unit *u, struct tokv *tv)
{
	size_t i = 0;

	while (i < tv->n) {
		struct tok *t = &tv->v[i];
		size_t ls, le, first, last, ind = NPOS;

		if (!t->kind) {
			i++;
			continue;
		}
		if (!kind_of(t->kind)->standalone ||
		    !standalone_line(u, tv, i, &ls, &le, &first, &last)) {
			/* no other tag on this line can stand alone either:
			 * skip to the next line, so that a line of many tags
			 * costs linear time */
			for (i++; i < tv->n; i++) {
				const struct tok *x = &tv->v[i];
				if (!x->kind && memchr(u->src + x->start, '\n',
						       x->end - x->start)) {
					i++;
					break;
				}
			}
			continue;
		}
		for (size_t j = first; j <= last; j++) {
			struct tok *x = &tv->v[j];
			if (x->kind) {
				if (ind == NPOS)
					ind = x->start;
				continue;
			}
			if (x->tend > ls && x->tstart < ls)
				x->tend = ls; /* keeps the previous line */
			else if (x->tstart < le && x->tend > le)
				x->tstart = le; /* keeps the next line */
			else if (x->tstart >= ls && x->tend <= le)
				x->tend = x->tstart;
		}
		for (size_t j = first; j <= last; j++) {
			struct tok *x = &tv->v[j];
			if (x->kind) {
				x->standalone = 1;
				x->ind = ls;
				x->indlen = ind - ls;
			}
		}
		i = last + 1;
	}
}

/* ---- pass 4: the tree -------------------------------------------------- */

struct dedent {
	int on, known;
	const char *s;
	size_t n;
};

struct frame {
	struct node open;
	struct node *kids;
	size_t n, cap;
	struct dedent saved;
};

struct builder {
	hd_tmpl *t;
	struct unit *u;
	hd_error *err;
	struct frame fr[HD_TMPL_MAX_NESTING + 1];
	size_t top;
	struct dedent dd; /* lines of an overriding block lose this prefix */
	int sbol;	  /* the next token starts a source line */
};

static void node_free(struct node *n)
{
	if (n->kind != N_TEXT)
		free((char *)n->text);
	free(n->parts);
	for (size_t i = 0; i < n->nkids; i++)
		node_free(&n->kids[i]);
	free(n->kids);
}

static hd_status frame_push(struct frame *f, struct node *n)
{
	if (f->open.kind == N_PARENT && n->kind != N_BLOCK) {
		/* a parent keeps only its block overrides */
		node_free(n);
		return HD_OK;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct node *v = realloc(f->kids, cap * sizeof(*v));
		if (!v) {
			node_free(n);
			return HD_ENOMEM;
		}
		f->kids = v;
		f->cap = cap;
	}
	f->kids[f->n++] = *n;
	return HD_OK;
}

static hd_status add_text(struct builder *b, size_t a, size_t e)
{
	const char *s = b->u->src;
	struct frame *f = &b->fr[b->top];

	while (a < e) {
		struct node n = {0};
		const char *nl;
		size_t le;

		if (b->dd.on && b->sbol) {
			size_t k = 0;
			if (!b->dd.known) {
				size_t q = a;
				while (q < e && is_blank(s[q]))
					q++;
				if (q < e && s[q] != '\n' && s[q] != '\r') {
					b->dd.known = 1;
					b->dd.s = s + a;
					b->dd.n = q - a;
				}
			}
			while (b->dd.known && k < b->dd.n && a < e &&
			       s[a] == b->dd.s[k]) {
				a++;
				k++;
			}
		}
		nl = b->dd.on ? memchr(s + a, '\n', e - a) : NULL;
		le = nl ? (size_t)(nl - s) + 1 : e;
		if (le == a)
			break;
		n.kind = N_TEXT;
		n.text = s + a;
		n.len = le - a;
		if (frame_push(f, &n) != HD_OK)
			return HD_ENOMEM;
		b->sbol = s[le - 1] == '\n';
		a = le;
	}
	return HD_OK;
}

/* Splits a variable or section name on '.', after taking off a '?' and
 * its fallback where opt allows one. */
static hd_status parse_name(struct builder *b, const struct tok *t, size_t a,
			    size_t e, int opt, struct node *n)
{
	const char *s = b->u->src;
	const char *q = memchr(s + a, '?', e - a);
	size_t ne = q ? (size_t)(q - s) : e, np = 1, k;
	char *name;

	if (q && !opt)
		return syntax(b->err, b->u, t->line, t->col, HD_ETEMPLATE,
			      "'?' marks optional variables only, not a %s",
			      kind_of(t->kind)->what);
	if (q) {
		n->optional = 1;
		n->fallback = q + 1;
		n->fallback_len = e - ne - 1;
	}
	for (k = a; k < ne; k++)
		if (is_ws(s[k])) {
			hd_buf al = HD_BUF_INIT;
			size_t alen = 0;
			hd_status st;
			int shown =
			    (int)(ne - a > MAX_NAME_SHOWN ? MAX_NAME_SHOWN
							  : ne - a);
			/* most often a spreadsheet's column name */
			if (hd_source_alias_of(s + a, ne - a, &al, &alen) ==
				HD_OK &&
			    alen)
				st = syntax(
				    b->err, b->u, t->line, t->col, HD_ETEMPLATE,
				    "white space in the name '%.*s' "
				    "(a CSV column '%.*s' is read as "
				    "{{%.*s}})",
				    shown, s + a, shown, s + a,
				    (int)(alen > MAX_NAME_SHOWN ? MAX_NAME_SHOWN
								: alen),
				    al.data);
			else
				st = syntax(b->err, b->u, t->line, t->col,
					    HD_ETEMPLATE,
					    "white space in the name '%.*s'",
					    shown, s + a);
			hd_buf_free(&al);
			return st;
		}
	if (ne == a)
		return syntax(b->err, b->u, t->line, t->col, HD_ETEMPLATE,
			      "empty name before '?'");
	name = malloc(ne - a + 1);
	if (!name)
		return HD_ENOMEM;
	memcpy(name, s + a, ne - a);
	name[ne - a] = '\0';
	n->text = name;
	n->len = ne - a;
	if (n->len == 1 && name[0] == '.')
		return HD_OK;
	for (k = 0; k < n->len; k++)
		np += name[k] == '.';
	n->parts = malloc(np * sizeof(*n->parts));
	if (!n->parts)
		return HD_ENOMEM;
	n->nparts = 0;
	for (const char *p = name;;) {
		const char *dot = strchr(p, '.');
		size_t pl = dot ? (size_t)(dot - p) : strlen(p);
		if (!pl)
			return syntax(b->err, b->u, t->line, t->col,
				      HD_ETEMPLATE,
				      "empty part in the name '%s'", name);
		n->parts[n->nparts].s = p;
		n->parts[n->nparts++].n = pl;
		if (!dot)
			break;
		p = dot + 1;
	}
	return HD_OK;
}

static hd_status get_unit(hd_tmpl *t, const char *name, struct unit **out,
			  hd_error *err);

static hd_status make_node(struct builder *b, const struct tok *t,
			   struct node *n)
{
	const char *s = b->u->src;
	const struct tag_kind *k = kind_of(t->kind);
	size_t a = t->cstart, e = t->cend;

	n->kind = (unsigned char)k->node;
	n->standalone = t->standalone;
	n->line = file_line(b->u, t->line);
	n->column = file_col(b->u, t->line, t->col);
	if (t->standalone) {
		n->indent = s + t->ind;
		n->indent_len = t->indlen;
		if (b->dd.on) {
			/* lines of an overriding block lose its indentation */
			size_t m = 0;
			if (!b->dd.known) {
				b->dd.known = 1;
				b->dd.s = n->indent;
				b->dd.n = n->indent_len;
			}
			while (m < b->dd.n && m < n->indent_len &&
			       n->indent[m] == b->dd.s[m])
				m++;
			n->indent += m;
			n->indent_len -= m;
		}
	}
	if ((t->kind == '>' || t->kind == '<') && s[a] == '*') {
		n->dynamic = 1;
		for (a++; a < e && is_ws(s[a]); a++)
			;
	}
	if ((t->kind == '>' || t->kind == '<' || t->kind == '$') &&
	    !n->dynamic) {
		char *name = malloc(e - a + 1);
		if (!name)
			return HD_ENOMEM;
		memcpy(name, s + a, e - a);
		name[e - a] = '\0';
		n->text = name;
		n->len = e - a;
		if (t->kind == '$')
			return HD_OK;
		return get_unit(b->t, name, &n->unit, b->err);
	}
	return parse_name(
	    b, t, a, e, t->kind == 'v' || t->kind == '&' || t->kind == '{', n);
}

/* White space before tag t when only white space precedes it on its line:
 * a block's lines after its first are indented by it when overridden. */
static void inline_indent(const struct unit *u, const struct tok *t,
			  struct node *n)
{
	size_t p = t->start;

	while (p > 0 && is_blank(u->src[p - 1]))
		p--;
	if (p == 0 || u->src[p - 1] == '\n') {
		n->reindent = u->src + p;
		n->reindent_len = t->start - p;
	}
}

/* A standalone block's overriding lines take the indentation of its
 * default content ("intrinsic"), else that of the tag. */
static void block_indent(struct node *n)
{
	if (!n->standalone)
		return;
	n->reindent = n->indent;
	n->reindent_len = n->indent_len;
	if (n->nkids && n->kids[0].kind == N_TEXT) {
		size_t m = 0;
		while (m < n->kids[0].len && is_blank(n->kids[0].text[m]))
			m++;
		if (m < n->kids[0].len) {
			n->reindent = n->kids[0].text;
			n->reindent_len = m;
		}
	}
}

static hd_status build(struct builder *b, const struct tokv *tv)
{
	hd_status st = HD_OK;

	for (size_t i = 0; i < tv->n && st == HD_OK; i++) {
		const struct tok *t = &tv->v[i];
		struct frame *f = &b->fr[b->top];
		struct node n = {0};

		if (!t->kind) {
			st = add_text(b, t->tstart, t->tend);
			continue;
		}
		if (t->kind == '/') {
			n = f->open;
			n.kids = f->kids;
			n.nkids = f->n;
			b->dd = f->saved;
			memset(f, 0, sizeof(*f));
			b->top--;
			if (n.kind == N_BLOCK)
				block_indent(&n);
			st = frame_push(&b->fr[b->top], &n);
		} else if (t->kind == '!' || t->kind == '=') {
			/* no node */
		} else if (kind_of(t->kind)->opens) {
			struct frame *nf = &b->fr[b->top + 1];
			st = make_node(b, t, &n);
			if (st != HD_OK) {
				node_free(&n);
				break;
			}
			if (t->kind == '$' && !t->standalone)
				inline_indent(b->u, t, &n);
			nf->open = n;
			nf->saved = b->dd;
			if (t->kind == '$' && f->open.kind == N_PARENT &&
			    t->standalone) {
				/* an override: its lines lose their common
				 * indentation, to take the expansion's */
				b->dd.on = 1;
				b->dd.known = 0;
			}
			b->top++;
		} else {
			st = make_node(b, t, &n);
			if (st == HD_OK)
				st = frame_push(f, &n);
			else
				node_free(&n);
		}
		b->sbol = t->standalone;
	}
	return st;
}

static hd_status compile_unit(hd_tmpl *t, struct unit *u, hd_error *err)
{
	struct tokv tv = {0};
	struct builder *b = NULL;
	hd_status st;

	st = tokenize(u, &tv, err);
	if (st == HD_OK)
		st = match(u, &tv, err);
	if (st != HD_OK)
		goto out;
	standalone(u, &tv);
	b = calloc(1, sizeof(*b));
	if (!b) {
		st = HD_ENOMEM;
		goto out;
	}
	b->t = t;
	b->u = u;
	b->err = err;
	b->sbol = 1;
	b->fr[0].open.kind = N_TEXT;
	st = build(b, &tv);
	/* on success only the root frame is left; on failure free them all */
	for (size_t i = 1; i <= b->top; i++) {
		for (size_t k = 0; k < b->fr[i].n; k++)
			node_free(&b->fr[i].kids[k]);
		free(b->fr[i].kids);
		node_free(&b->fr[i].open);
	}
	u->nodes = b->fr[0].kids;
	u->count = b->fr[0].n;
out:
	free(b);
	free(tv.v);
	if (st == HD_ENOMEM)
		hd_error_set(err, st, u->file, 0, 0, NULL);
	return st;
}

static hd_status add_unit(hd_tmpl *t, struct unit *u)
{
	if (t->nunits == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4;
		struct unit **v = realloc(t->units, cap * sizeof(*v));
		if (!v)
			return HD_ENOMEM;
		t->units = v;
		t->cap = cap;
	}
	t->units[t->nunits++] = u;
	return HD_OK;
}

static void unit_free(struct unit *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->count; i++)
		node_free(&u->nodes[i]);
	free(u->nodes);
	free(u->src);
	free(u->name);
	free(u);
}

/* The partial called name: loaded now, compiled later by compile_all. */
static hd_status get_unit(hd_tmpl *t, const char *name, struct unit **out,
			  hd_error *err)
{
	struct unit *u;
	char *text = NULL;
	size_t len = 0;
	hd_status st;

	for (size_t i = 1; i < t->nunits; i++)
		if (strcmp(t->units[i]->name, name) == 0) {
			*out = t->units[i];
			return HD_OK;
		}
	if (t->nunits > HD_TMPL_MAX_PARTIALS)
		return hd_error_set(err, HD_ELIMIT, name, 0, 0,
				    "more than %d partials",
				    HD_TMPL_MAX_PARTIALS);
	if (t->partial) {
		st = t->partial(t->partial_ctx, name, &text, &len, err);
		if (st != HD_OK) {
			free(text);
			return st;
		}
	}
	if (text && len > (size_t)HD_TMPL_MAX_SIZE) {
		free(text);
		return hd_error_set(err, HD_ELIMIT, name, 0, 0,
				    "partial is larger than %ld bytes",
				    HD_TMPL_MAX_SIZE);
	}
	u = calloc(1, sizeof(*u));
	if (u)
		u->name = strdup(name);
	if (!u || !u->name || add_unit(t, u) != HD_OK) {
		free(text);
		unit_free(u);
		return hd_error_set(err, HD_ENOMEM, name, 0, 0, NULL);
	}
	u->file = u->name;
	u->src = text;
	u->len = text ? len : 0;
	u->missing = !text;
	u->line0 = 1;
	u->col0 = 1;
	*out = u;
	return HD_OK;
}

hd_status hd_tmpl_compile(const char *text, size_t len,
			  const hd_tmpl_opts *opts, hd_tmpl **out,
			  hd_error *err)
{
	static const hd_tmpl_opts defaults = {0};
	hd_tmpl *t = NULL;
	struct unit *u = NULL;
	hd_status st;

	if (out)
		*out = NULL;
	if (!opts)
		opts = &defaults;
	if (!out || (!text && len))
		return hd_error_set(err, HD_EINVAL, opts->source, 0, 0,
				    "hd_tmpl_compile: no text or no output");
	if (len > (size_t)HD_TMPL_MAX_SIZE)
		return hd_error_set(err, HD_ELIMIT, opts->source, 0, 0,
				    "template is larger than %ld bytes",
				    HD_TMPL_MAX_SIZE);
	t = calloc(1, sizeof(*t));
	u = calloc(1, sizeof(*u));
	if (!t || !u)
		goto nomem;
	t->source = strdup(opts->source ? opts->source : "");
	u->src = malloc(len + 1);
	if (!t->source || !u->src)
		goto nomem;
	if (len)
		memcpy(u->src, text, len);
	u->src[len] = '\0';
	u->len = len;
	u->file = t->source;
	u->line0 = opts->first_line > 0 ? opts->first_line : 1;
	u->col0 = opts->first_column > 0 ? opts->first_column : 1;
	if (add_unit(t, u) != HD_OK)
		goto nomem;
	u = NULL;
	t->lenient = opts->lenient;
	t->partial = opts->partial;
	t->partial_ctx = opts->partial_ctx;
	/* partials are appended while their callers compile */
	for (size_t i = 0; i < t->nunits; i++) {
		if (t->units[i]->missing)
			continue;
		st = compile_unit(t, t->units[i], err);
		if (st != HD_OK) {
			hd_tmpl_free(t);
			return st;
		}
	}
	*out = t;
	return HD_OK;
nomem:
	unit_free(u);
	hd_tmpl_free(t);
	return hd_error_set(err, HD_ENOMEM, opts->source, 0, 0, NULL);
}

int hd_tmpl_is_literal(const hd_tmpl *t)
{
	const struct unit *u = t->units[0];

	for (size_t i = 0; i < u->count; i++)
		if (u->nodes[i].kind != N_TEXT)
			return 0;
	return 1;
}

int hd_tmpl_flatten(const hd_tmpl *t, hd_buf *text, size_t **at, size_t *nat)
{
	const struct unit *u = t->units[0];
	size_t n = 0, k = 0, *marks;

	*at = NULL;
	*nat = 0;
	for (size_t i = 0; i < u->count; i++) {
		if (u->nodes[i].kind == N_VAR)
			n++;
		else if (u->nodes[i].kind != N_TEXT)
			return 0;
	}
	marks = malloc((n ? n : 1) * sizeof(*marks));
	if (!marks)
		return -1;
	for (size_t i = 0; i < u->count; i++) {
		const struct node *nd = &u->nodes[i];

		if (nd->kind == N_VAR)
			marks[k++] = text->len;
		else if (hd_buf_append(text, nd->text, nd->len) != HD_OK) {
			free(marks);
			return -1;
		}
	}
	*at = marks;
	*nat = n;
	return 1;
}

void hd_tmpl_free(hd_tmpl *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nunits; i++)
		unit_free(t->units[i]);
	free(t->units);
	free(t->source);
	free(t);
}

/* ---- rendering --------------------------------------------------------- */

struct ctx {
	json_t *v;
	const struct ctx *up;
};

/* Indentation of standalone partials, outermost first when written. */
struct ind {
	const char *s;
	size_t n;
	const struct ind *up;
};

/* Block overrides of the parent tags being rendered, innermost first. */
struct scope {
	const struct node *parent;
	const struct unit *u;
	const struct scope *outer;
};

struct rs {
	const hd_tmpl *t;
	hd_buf *out;
	hd_error *err;
	hd_escape_fn esc, raw;
	long row;
	int lenient;
	int at_bol; /* output is at the start of a template line */
	int pdepth, depth;
	size_t len0;	    /* out->len when the render started */
	unsigned long work; /* nodes rendered so far */
};

static hd_status html_escape(hd_buf *out, const char *s, size_t n,
			     hd_error *err)
{
	size_t run = 0;

	(void)err;
	if (hd_buf_reserve(out, n) != HD_OK)
		return HD_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *ent;
		switch (s[i]) {
		case '&':
			ent = "&amp;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		default:
			continue;
		}
		if (hd_buf_append(out, s + run, i - run) != HD_OK ||
		    hd_buf_puts(out, ent) != HD_OK)
			return HD_ENOMEM;
		run = i + 1;
	}
	return hd_buf_append(out, s + run, n - run);
}

static hd_status put_indent(hd_buf *out, const struct ind *ind)
{
	if (!ind)
		return HD_OK;
	if (put_indent(out, ind->up) != HD_OK)
		return HD_ENOMEM;
	return hd_buf_append(out, ind->s, ind->n);
}

static hd_status put_text(struct rs *r, const char *s, size_t n,
			  const struct ind *ind)
{
	if (!n)
		return HD_OK;
	if (!ind) {
		r->at_bol = s[n - 1] == '\n';
		return hd_buf_append(r->out, s, n);
	}
	while (n) {
		const char *nl = memchr(s, '\n', n);
		size_t k = nl ? (size_t)(nl - s) + 1 : n;
		if (r->at_bol && put_indent(r->out, ind) != HD_OK)
			return HD_ENOMEM;
		if (hd_buf_append(r->out, s, k) != HD_OK)
			return HD_ENOMEM;
		r->at_bol = nl != NULL;
		s += k;
		n -= k;
	}
	return HD_OK;
}

HD_PRINTF(5, 6)
static hd_status tag_error(struct rs *r, const struct unit *u,
			   const struct node *nd, hd_status code,
			   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hd_error_vset(r->err, code, u->file, nd->line, nd->column, fmt, ap);
	va_end(ap);
	if (r->err) {
		hd_error_set_field(r->err, nd->text);
		r->err->row = r->row;
	}
	return code;
}

/* An escaper's error: keep its code and message, add the place. */
static hd_status escaper_error(struct rs *r, const struct unit *u,
			       const struct node *nd, hd_status code)
{
	hd_error *e = r->err;

	if (!e)
		return code;
	e->code = code;
	snprintf(e->file, sizeof(e->file), "%s", u->file);
	e->line = nd->line;
	e->column = nd->column;
	e->row = r->row;
	hd_error_set_field(e, nd->text);
	if (!e->msg[0])
		snprintf(e->msg, sizeof(e->msg), "%s", hd_strerror(code));
	return code;
}

/* The shortest %g form that reads back as the same double. */
static size_t fmt_real(char *buf, size_t size, double d)
{
	int n = 0;

	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return n > 0 ? (size_t)n : 0;
}

static hd_status emit(struct rs *r, const struct unit *u, const struct node *nd,
		      const char *s, size_t n, const struct ind *ind)
{
	hd_escape_fn fn = nd->kind == N_RAW ? r->raw : r->esc;
	hd_status st;

	if (!n)
		return HD_OK;
	if (r->at_bol && ind && put_indent(r->out, ind) != HD_OK)
		return tag_error(r, u, nd, HD_ENOMEM, NULL);
	r->at_bol = 0;
	if (!fn) {
		if (hd_buf_append(r->out, s, n) != HD_OK)
			return tag_error(r, u, nd, HD_ENOMEM, NULL);
		return HD_OK;
	}
	if (r->err)
		r->err->msg[0] = '\0'; /* an escaper may fail without a word */
	st = fn(r->out, s, n, r->err);
	if (st != HD_OK)
		return escaper_error(r, u, nd, st);
	return HD_OK;
}

static json_t *lookup(const struct ctx *c, const struct node *nd)
{
	json_t *v = NULL;

	if (!nd->nparts)
		return c->v;
	for (; c; c = c->up)
		if (json_is_object(c->v) &&
		    (v = json_object_getn(c->v, nd->parts[0].s,
					  nd->parts[0].n)) != NULL)
			break;
	for (unsigned i = 1; v && i < nd->nparts; i++)
		v = json_is_object(v)
			? json_object_getn(v, nd->parts[i].s, nd->parts[i].n)
			: NULL;
	return v;
}

static int truthy(const json_t *v)
{
	if (!v)
		return 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_TRUE:
		return 1;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) < 0 || json_real_value(v) > 0;
	default:
		return 0;
	}
}

static hd_status render_var(struct rs *r, const struct unit *u,
			    const struct node *nd, const struct ctx *c,
			    const struct ind *ind)
{
	json_t *v = lookup(c, nd);
	char num[48];
	size_t n;

	/* strict mode counts an empty string as missing: a CSV cell cannot
	 * say null, and "Hello ," is the bug strictness is there to stop */
	if (!v || json_is_null(v) ||
	    ((nd->fallback_len || !r->lenient) && json_is_string(v) &&
	     !json_string_length(v))) {
		if (nd->optional)
			return emit(r, u, nd, nd->fallback, nd->fallback_len,
				    ind);
		if (r->lenient)
			return HD_OK;
		return tag_error(r, u, nd, HD_EMISSING, "no value for {{%s}}",
				 nd->text);
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		return emit(r, u, nd, json_string_value(v),
			    json_string_length(v), ind);
	case JSON_INTEGER:
		n = hd_format_integer(num, json_integer_value(v));
		return emit(r, u, nd, num, n, ind);
	case JSON_REAL:
		n = fmt_real(num, sizeof(num), json_real_value(v));
		return emit(r, u, nd, num, n, ind);
	case JSON_TRUE:
		return emit(r, u, nd, "true", 4, ind);
	case JSON_FALSE:
		return emit(r, u, nd, "false", 5, ind);
	default:
		if (r->lenient)
			return HD_OK;
		return tag_error(r, u, nd, HD_EINVAL,
				 "{{%s}} is an %s, not a value", nd->text,
				 json_is_array(v) ? "array" : "object");
	}
}

static hd_status render(struct rs *r, const struct unit *u,
			const struct node *nodes, size_t count,
			const struct ctx *c, const struct ind *ind,
			const struct scope *sc);

static hd_status nest(struct rs *r, const struct unit *u, const struct node *nd,
		      const struct unit *ku, const struct node *kids,
		      size_t nkids, const struct ctx *c, const struct ind *ind,
		      const struct scope *sc);

static const struct node *find_block(const struct scope *sc, const char *name,
				     const struct unit **u)
{
	const struct node *b;

	if (!sc)
		return NULL;
	/* the outermost override wins */
	b = find_block(sc->outer, name, u);
	if (b)
		return b;
	for (size_t i = 0; i < sc->parent->nkids; i++)
		if (strcmp(sc->parent->kids[i].text, name) == 0) {
			*u = sc->u;
			return &sc->parent->kids[i];
		}
	return NULL;
}

/* A partial or parent named by a value ({{>*name}}): one of those loaded
 * at compile time, else loaded and compiled now into *tmp. */
static hd_status dynamic_unit(struct rs *r, const struct node *nd,
			      const struct ctx *c, const struct unit **pu,
			      hd_tmpl **tmp)
{
	const hd_tmpl *t = r->t;
	json_t *v = lookup(c, nd);
	const char *name;
	char *text = NULL;
	size_t len = 0;
	hd_tmpl_opts o = {0};
	hd_status st;

	*pu = NULL;
	if (!json_is_string(v))
		return HD_OK;
	name = json_string_value(v);
	if (strlen(name) != json_string_length(v))
		return HD_OK; /* a NUL cannot be in a partial's name */
	for (size_t i = 1; i < t->nunits; i++)
		if (strcmp(t->units[i]->name, name) == 0) {
			*pu = t->units[i];
			return HD_OK;
		}
	if (!t->partial)
		return HD_OK;
	st = t->partial(t->partial_ctx, name, &text, &len, r->err);
	if (st != HD_OK) {
		free(text);
		if (r->err && !r->err->row)
			r->err->row = r->row;
		return st;
	}
	if (!text)
		return HD_OK;
	o.source = name;
	o.lenient = t->lenient;
	o.partial = t->partial;
	o.partial_ctx = t->partial_ctx;
	st = hd_tmpl_compile(text, len, &o, tmp, r->err);
	free(text);
	if (st != HD_OK) {
		if (r->err)
			r->err->row = r->row;
		return st;
	}
	*pu = (*tmp)->units[0];
	return HD_OK;
}

static hd_status render_partial(struct rs *r, const struct unit *u,
				const struct node *nd, const struct ctx *c,
				const struct ind *ind, const struct scope *sc)
{
	const struct unit *pu = nd->unit;
	hd_tmpl *tmp = NULL;
	struct ind ni;
	struct scope ns;
	hd_status st;

	if (nd->dynamic) {
		st = dynamic_unit(r, nd, c, &pu, &tmp);
		if (st != HD_OK)
			return st;
	}
	if (!pu || pu->missing)
		return HD_OK;
	if (r->pdepth >= HD_TMPL_MAX_PARTIAL_DEPTH) {
		hd_tmpl_free(tmp);
		return tag_error(r, u, nd, HD_ELIMIT,
				 "partials nested deeper than %d (a partial "
				 "that includes itself without end?)",
				 HD_TMPL_MAX_PARTIAL_DEPTH);
	}
	/* a standalone partial's lines are indented like its tag, plus the
	 * indentation of its own caller; an inline one starts afresh */
	if (nd->standalone) {
		r->at_bol = 1;
		if (nd->indent_len) {
			ni.s = nd->indent;
			ni.n = nd->indent_len;
			ni.up = ind;
			ind = &ni;
		}
	} else {
		ind = NULL;
	}
	if (nd->kind == N_PARENT) {
		ns.parent = nd;
		ns.u = u;
		ns.outer = sc;
		sc = &ns;
	}
	r->pdepth++;
	st = nest(r, u, nd, pu, pu->nodes, pu->count, c, ind, sc);
	r->pdepth--;
	hd_tmpl_free(tmp);
	return st;
}

static hd_status render_block(struct rs *r, const struct unit *u,
			      const struct node *nd, const struct ctx *c,
			      const struct ind *ind, const struct scope *sc)
{
	const struct unit *bu = u;
	const struct node *b = find_block(sc, nd->text, &bu);
	struct ind ni;

	if (!b)
		return nest(r, u, nd, u, nd->kids, nd->nkids, c, ind, sc);
	/* the overriding lines become lines of this template, indented as
	 * the block is */
	if (nd->reindent_len) {
		ni.s = nd->reindent;
		ni.n = nd->reindent_len;
		ni.up = ind;
		ind = &ni;
	}
	if (nd->standalone)
		r->at_bol = 1;
	return nest(r, u, nd, bu, b->kids, b->nkids, c, ind, sc);
}

/* Renders the nodes inside tag nd one level deeper; the depth bounds the
 * C stack a render can use, whatever the template and data. */
static hd_status nest(struct rs *r, const struct unit *u, const struct node *nd,
		      const struct unit *ku, const struct node *kids,
		      size_t nkids, const struct ctx *c, const struct ind *ind,
		      const struct scope *sc)
{
	hd_status st;

	if (r->depth >= HD_TMPL_MAX_RENDER_DEPTH)
		return tag_error(r, u, nd, HD_ELIMIT,
				 "sections, partials and blocks nested deeper "
				 "than %d",
				 HD_TMPL_MAX_RENDER_DEPTH);
	r->depth++;
	st = render(r, ku, kids, nkids, c, ind, sc);
	r->depth--;
	return st;
}

static hd_status render(struct rs *r, const struct unit *u,
			const struct node *nodes, size_t count,
			const struct ctx *c, const struct ind *ind,
			const struct scope *sc)
{
	hd_status st = HD_OK;

	for (size_t i = 0; i < count && st == HD_OK; i++) {
		const struct node *nd = &nodes[i];
		json_t *v;
		struct ctx cc;

		/* Sections over lists inside sections over lists multiply:
		 * a row's data must not make one render run for hours or
		 * fill the memory.  Both budgets are far above any real
		 * notification. */
		if (++r->work > HD_TMPL_MAX_WORK)
			return tag_error(r, u, nd, HD_ELIMIT,
					 "the template renders more than %lu "
					 "tags for one row (sections nested "
					 "over long lists?)",
					 (unsigned long)HD_TMPL_MAX_WORK);
		if (r->out->len - r->len0 > (size_t)HD_TMPL_MAX_OUTPUT)
			return tag_error(r, u, nd, HD_ELIMIT,
					 "the template renders more than %ld "
					 "MiB for one row",
					 HD_TMPL_MAX_OUTPUT >> 20);

		switch (nd->kind) {
		case N_TEXT:
			st = put_text(r, nd->text, nd->len, ind);
			if (st != HD_OK)
				st = hd_error_set(r->err, st, u->file, 0, 0,
						  NULL);
			break;
		case N_VAR:
		case N_RAW:
			st = render_var(r, u, nd, c, ind);
			break;
		case N_SECTION:
			v = lookup(c, nd);
			if (!truthy(v))
				break;
			cc.up = c;
			if (!json_is_array(v)) {
				cc.v = v;
				st = nest(r, u, nd, u, nd->kids, nd->nkids, &cc,
					  ind, sc);
				break;
			}
			for (size_t k = 0;
			     k < json_array_size(v) && st == HD_OK; k++) {
				cc.v = json_array_get(v, k);
				st = nest(r, u, nd, u, nd->kids, nd->nkids, &cc,
					  ind, sc);
			}
			break;
		case N_INVERTED:
			if (!truthy(lookup(c, nd)))
				st = nest(r, u, nd, u, nd->kids, nd->nkids, c,
					  ind, sc);
			break;
		case N_PARTIAL:
		case N_PARENT:
			st = render_partial(r, u, nd, c, ind, sc);
			break;
		case N_BLOCK:
			st = render_block(r, u, nd, c, ind, sc);
			break;
		}
	}
	return st;
}

hd_status hd_tmpl_render(const hd_tmpl *t, json_t *data,
			 const hd_tmpl_render_opts *ro, hd_buf *out,
			 hd_error *err)
{
	static const hd_tmpl_render_opts defaults = {0};
	struct ctx root = {data, NULL};
	struct rs r;
	size_t len0;
	hd_status st;

	if (!t || !out)
		return hd_error_set(err, HD_EINVAL, NULL, 0, 0,
				    "hd_tmpl_render: no template or no output");
	if (!ro)
		ro = &defaults;
	memset(&r, 0, sizeof(r));
	r.t = t;
	r.out = out;
	r.err = err;
	r.esc = ro->escape ? ro->escape : html_escape;
	r.raw = ro->raw;
	r.row = ro->row;
	r.lenient = t->lenient;
	r.at_bol = 1;
	len0 = out->len;
	r.len0 = len0;
	st = render(&r, t->units[0], t->units[0]->nodes, t->units[0]->count,
		    &root, NULL, NULL);
	if (st == HD_OK && out->len - len0 > (size_t)HD_TMPL_MAX_OUTPUT)
		st = hd_error_set(err, HD_ELIMIT, t->units[0]->file, 0, 0,
				  "the template renders more than %ld MiB "
				  "for one row",
				  HD_TMPL_MAX_OUTPUT >> 20);
	if (st != HD_OK && out->data) {
		out->len = len0;
		out->data[len0] = '\0';
	}
	return st;
}

/* ---- walking the tags ---------------------------------------------------- */

#define WALK_UNITS 64 /* partials open at once in a walk */

struct walk {
	hd_tmpl_walk_fn fn;
	void *ctx;
	const struct unit *open[WALK_UNITS]; /* the partials being walked */
	size_t nopen;
};

static void walk_nodes(struct walk *w, const struct unit *u,
		       const struct node *nodes, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct node *nd = &nodes[i];
		hd_tmpl_tag tag = {0};
		const struct unit *pu = nd->unit;
		size_t k;

		switch (nd->kind) {
		case N_VAR:
		case N_RAW:
		case N_SECTION:
		case N_INVERTED:
			tag.kind = nd->kind == N_SECTION    ? HD_TMPL_SECTION
				   : nd->kind == N_INVERTED ? HD_TMPL_INVERTED
							    : HD_TMPL_VARIABLE;
			tag.name = nd->text;
			tag.head = nd->nparts ? nd->parts[0].s : NULL;
			tag.head_len = nd->nparts ? nd->parts[0].n : 0;
			tag.nparts = nd->nparts;
			tag.optional = nd->optional;
			tag.file = u->file;
			tag.line = nd->line;
			tag.column = nd->column;
			if (w->fn(w->ctx, &tag) && tag.kind != HD_TMPL_VARIABLE)
				walk_nodes(w, u, nd->kids, nd->nkids);
			break;
		case N_PARTIAL:
			/* a partial whose name is data, a parent's overrides
			 * and blocks are not known until a render */
			if (nd->dynamic || !pu || pu->missing)
				break;
			for (k = 0; k < w->nopen && w->open[k] != pu; k++)
				;
			if (k < w->nopen || w->nopen == WALK_UNITS)
				break; /* a partial that includes itself */
			w->open[w->nopen++] = pu;
			walk_nodes(w, pu, pu->nodes, pu->count);
			w->nopen--;
			break;
		default:
			break;
		}
	}
}

void hd_tmpl_walk(const hd_tmpl *t, hd_tmpl_walk_fn fn, void *ctx)
{
	struct walk w = {.fn = fn, .ctx = ctx, .nopen = 0};

	if (!t || !fn || !t->nunits)
		return;
	walk_nodes(&w, t->units[0], t->units[0]->nodes, t->units[0]->count);
}

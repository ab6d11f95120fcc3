/*
 * escape.h — one escaper per output context (internal).
 *
 * SYNOPSIS
 *	hd_escape_fn esc = hd_escape_for_content_type("application/json");
 *	esc(&out, value, len, &err);		(appends the escaped value)
 *
 * DESCRIPTION
 *	The template renderer hands every recipient value to the escaper of
 *	the place it lands in.  Templates are trusted, recipient data never
 *	is: whatever the value holds, it stays data in that context and can
 *	never end a header, add a URL path segment or query parameter, close
 *	a JSON string or open an HTML tag.  Each escaper appends to out and
 *	has the hd_escape_fn signature of buf.h.
 *
 *	context            escaper                 refuses
 *	plain text body    hd_escape_text          invalid UTF-8
 *	header value       hd_escape_header        C0 controls but TAB, DEL,
 *	                                           invalid UTF-8
 *	{{{raw}}} header   hd_escape_raw_header    CR, LF, NUL
 *	URL part           hd_escape_url           nothing (bytes in, %XX out)
 *	form field         hd_escape_form          nothing
 *	JSON string        hd_escape_json          invalid UTF-8
 *	HTML               hd_escape_html          invalid UTF-8
 *	address local part hd_escape_local_part    nothing (VERP encoding)
 *
 *	Header values are not RFC 2047 encoded here: the finished header
 *	line is, by hd_header_append() in encode.h.
 *
 * INVARIANTS
 *	- On failure out holds exactly what it held before the call (an
 *	  escaper checks the whole value before it appends anything) and
 *	  err->msg says why, with the byte offset for bad UTF-8.
 *	- UTF-8 is checked strictly (RFC 3629): no overlong forms, no
 *	  surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
 *
 * THREAD-SAFETY
 *	Every function is pure (no state), so safe from any thread; the
 *	content-type table is const.
 */
#ifndef HD_ESCAPE_H
#define HD_ESCAPE_H

#include "buf.h"

#include <stddef.h>

/* 1 when s[0..n) is valid UTF-8; else 0 and, when bad_offset is not NULL,
 * the offset of the first byte of the first bad sequence. */
int hd_utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* Plain text: copied as is once it is valid UTF-8. */
hd_status hd_escape_text(hd_buf *out, const char *s, size_t n, hd_error *err);

/* Header value: CR or LF -> HD_EHEADER "line break in header value"; NUL,
 * other C0 controls (TAB is allowed) and DEL -> HD_EHEADER; invalid UTF-8
 * -> HD_EUTF8; otherwise copied as is. */
hd_status hd_escape_header(hd_buf *out, const char *s, size_t n, hd_error *err);

/* {{{raw}}} in a header: only CR, LF and NUL are refused (HD_EHEADER),
 * nothing else is checked or changed. */
hd_status hd_escape_raw_header(hd_buf *out, const char *s, size_t n,
			       hd_error *err);

/* URL part (path segment, query name or value): every byte except the
 * RFC 3986 unreserved set A-Z a-z 0-9 - . _ ~ becomes %XX (upper case). */
hd_status hd_escape_url(hd_buf *out, const char *s, size_t n, hd_error *err);

/* application/x-www-form-urlencoded field (WHATWG URL, "urlencoded
 * serializing"): space -> '+', unreserved as is, every other byte %XX. */
hd_status hd_escape_form(hd_buf *out, const char *s, size_t n, hd_error *err);

/* A piece of an address's local part (RFC 5322 dot-atom text), for VERP
 * bounce addresses ("bounces+{{key}}@example.com"): letters, digits, '-'
 * and '_' stay, '.' stays between two letters or digits, '@' becomes '='
 * (the VERP convention: ann@example.com -> ann=example.com), every other
 * byte becomes '+' and two upper-case hex digits.  Reversible: a bounce
 * handler reads '=' as '@' and "+XX" as the byte 0xXX. */
hd_status hd_escape_local_part(hd_buf *out, const char *s, size_t n,
			       hd_error *err);

/* Inside of a JSON string, without the quotes (RFC 8259 section 7):
 * \" \\ \b \f \n \r \t, other C0 and DEL as \u00xx, U+2028 and U+2029 as
 * \u2028 \u2029 (they end a line in JavaScript); invalid UTF-8 -> HD_EUTF8
 * "invalid UTF-8 at byte N". */
hd_status hd_escape_json(hd_buf *out, const char *s, size_t n, hd_error *err);

/* HTML text or quoted attribute value: & < > " ' become &amp; &lt; &gt;
 * &quot; &#39;; invalid UTF-8 -> HD_EUTF8. */
hd_status hd_escape_html(hd_buf *out, const char *s, size_t n, hd_error *err);

/* One row of the content-type decision table. */
typedef struct hd_escape_row {
	const char *content_type_prefix; /* media type, lower case; a
					  * leading '+' matches a suffix */
	hd_escape_fn escape;
} hd_escape_row;

/* The escaper for a body of this Content-Type: application/json and
 * every +json type -> json, application/x-www-form-urlencoded -> form,
 * text/html -> html, anything else (text/plain, NULL) -> text.  Case,
 * surrounding blanks and parameters ("; charset=utf-8") are ignored. */
hd_escape_fn hd_escape_for_content_type(const char *content_type);

#endif

/*
 * json_check.h — is a rendered body JSON?  Decided without building it.
 *
 * Every row's .http body with a JSON Content-Type is checked once
 * rendered.  Parsing it with jansson builds a tree only to free it, which
 * cost a tenth of herald's CPU on a fast sink; this scanner walks the text
 * once, allocates nothing, and answers for the cases it is sure of.
 *
 * The rules are jansson's with JSON_DECODE_ANY | JSON_ALLOW_NUL (one value
 * of any kind, whitespace around it), so that "valid" here never disagrees
 * with the parser that gives the error message.  Where jansson goes beyond
 * RFC 8259 or refuses what the RFC allows (integers past 64 bits, numbers
 * with an exponent that may overflow, NUL in a key or a raw NUL byte,
 * nesting past its depth limit, bytes that are not UTF-8), the answer is
 * HD_JSON_UNSURE and the caller asks jansson.
 */
#ifndef HERALD_JSON_CHECK_H
#define HERALD_JSON_CHECK_H

#include <jansson.h>
#include <stddef.h>

enum hd_json_verdict {
	HD_JSON_INVALID = 0, /* jansson refuses it too */
	HD_JSON_VALID = 1,   /* jansson accepts it too */
	HD_JSON_UNSURE = -1, /* ask jansson */
};

enum hd_json_verdict hd__json_check(const char *s, size_t n);

/* Is every text made by inserting JSON string content at the offsets at[]
 * (nat of them, ascending) of s valid JSON?  HD_JSON_VALID when s is, and
 * each offset falls between two characters inside a string that is a
 * value, not an object's key: whatever is inserted there (any UTF-8,
 * escaped as a JSON string's inside) leaves the text valid, and jansson
 * accepts it.  HD_JSON_UNSURE otherwise: then each text needs its own
 * check. */
enum hd_json_verdict hd__json_check_marks(const char *s, size_t n,
					  const size_t *at, size_t nat);

/* json_loadb(s, n, flags, NULL) for a text the check finds valid, in a
 * fraction of the time: jansson reads a byte at a time through a stream
 * and buffer, and a record was a fifth of herald's CPU on a fast sink.
 * HD_JSON_VALID: *out is the very tree jansson would build (the same
 * kinds, values and key order).  Otherwise *out is NULL and the caller
 * asks jansson, which also says what is wrong: the text is invalid or
 * unsure, it has a duplicate key under JSON_REJECT_DUPLICATES, a flag
 * other than those and JSON_DECODE_ANY is given, JSON_ALLOW_NUL is not,
 * or memory ran out. */
enum hd_json_verdict hd__json_load(const char *s, size_t n, int flags,
				   json_t **out);

#endif

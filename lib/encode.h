/*
 * encode.h — MIME encoders: base64, quoted-printable, header fields
 * (folding and RFC 2047 encoded-words) and MIME parameters (RFC 2231).
 *
 * SYNOPSIS
 *	hd_header_append(&msg, "Subject", subj, strlen(subj), 0);
 *	hd_header_append(&msg, "To", to, strlen(to), 1);
 *	hd_buf_puts(&cd, "attachment");
 *	hd_mime_param(&cd, "filename", name);
 *	hd_header_append(&msg, "Content-Disposition", cd.data, cd.len, 0);
 *	if (hd_needs_encoding(body, len)) hd_qp_encode(&msg, body, len);
 *
 * DESCRIPTION
 *	Everything here appends to an hd_buf and produces text that can go
 *	on the wire as it is: CRLF line ends, lines within the RFC 5322
 *	section 2.1.1 limits (78 characters where possible, never more than
 *	998 octets), 7-bit ASCII only.
 *
 *	Header fields.  hd_header_append() writes "Name: value\r\n",
 *	folding (RFC 5322 section 2.2.3: a CRLF inserted before a blank, so
 *	unfolding gives the value back) so lines stay within 78 characters
 *	where a blank allows it.  Leading and trailing blanks of the value
 *	are dropped: readers drop them too (and an MTA may strip trailing
 *	ones).  Words with non-ASCII bytes are written as RFC 2047
 *	encoded-words (=?UTF-8?Q?...?= or =?UTF-8?B?...?=, whichever is
 *	shorter for the run), each at most 75 characters (RFC 2047 section
 *	2), never cutting a UTF-8 character (section 5).  Decoders drop the
 *	whitespace between two adjacent encoded-words (section 6.2), so a run
 *	of neighbouring non-ASCII words is encoded as one piece, blanks
 *	inside it encoded too; the blanks around the run stay plain text.
 *	The decoded text is the input, byte for byte.  A plain word holding
 *	"=?" is encoded as well, so a reader cannot take it for an
 *	encoded-word and change it.
 *
 *	Address fields (address_list == 1: From, To, Cc, Bcc, Reply-To) are
 *	parsed with hd_mailbox_list_parse() and written back as
 *	"name <addr>, addr, ..."; a display name with non-ASCII becomes
 *	encoded-words (RFC 2047 section 5(3) "phrase" rules), an ASCII one
 *	is quoted when it is not a run of atoms (RFC 5322 section 3.2.3:
 *	specials such as , . " @ ( need quotes), the addr-spec is never
 *	changed, and folds go between mailboxes first.
 *
 * INVARIANTS
 *	On any failure out is left as it was before the call.
 *
 * THREAD-SAFETY
 *	No shared state: every function is safe from any thread (each call
 *	on its own hd_buf).
 */
#ifndef HD_ENCODE_H
#define HD_ENCODE_H

#include "buf.h"

#include <stddef.h>

#define HD_LINE_SOFT_MAX 78    /* RFC 5322 2.1.1 SHOULD, without CRLF */
#define HD_LINE_HARD_MAX 998   /* RFC 5322 2.1.1 MUST, without CRLF */
#define HD_ENCODED_WORD_MAX 75 /* RFC 2047 section 2 */
#define HD_HEADER_NAME_MAX 76

/* Base64 (RFC 2045 section 6.8, alphabet of RFC 4648 section 4).
 * line_len 76 for MIME bodies: CRLF after every full line and after the
 * last one; 0 for no line breaks.  HD_EINVAL when line_len > 998. */
hd_status hd_base64_encode(hd_buf *out, const void *p, size_t n,
			   size_t line_len);

/* Base64url (RFC 4648 section 5: "-" and "_" for "+" and "/") without
 * padding or line breaks, for tokens in URLs.  HD_EINVAL for NULL p with
 * n > 0. */
hd_status hd_base64url_encode(hd_buf *out, const void *p, size_t n);

/* The inverse: appends the bytes s[0..n) encodes.  Strict: only the
 * base64url alphabet, no padding, no white space, and the unused low bits
 * of a short last group must be zero (one encoding per byte string);
 * anything else is HD_EINVAL and out is left as it was. */
hd_status hd_base64url_decode(hd_buf *out, const char *s, size_t n);

/* Quoted-printable (RFC 2045 section 6.7).  LF and CRLF in the input are
 * line ends and become CRLF (hard breaks); "=" (0x3D), bytes above 0x7E,
 * controls (a bare CR too) and a space or TAB that ends a line become
 * =XX; soft breaks "=\r\n" keep every line within 76 characters and never
 * split an =XX.  No CRLF is added after input that has no final line
 * end. */
hd_status hd_qp_encode(hd_buf *out, const char *p, size_t n);

/* 1 when the body cannot go as 7bit (RFC 5322 section 2.3, RFC 2045
 * section 2.7): a byte above 0x7F, a NUL, a CR not followed by LF, or a
 * line longer than 998 octets; else 0. */
int hd_needs_encoding(const char *p, size_t n);

/* Appends the header field "name: value\r\n" (see above).  name: 1..76
 * printable ASCII characters without ":" (RFC 5322 section 3.6.8).
 * Errors: HD_EHEADER for a bad name or a CR, LF or other control in the
 * value (TAB is a blank), HD_EUTF8 for invalid UTF-8, HD_ELIMIT for a
 * word that cannot fit in 998 octets, and for address lists whatever
 * hd_mailbox_list_parse() returns (HD_EADDRESS ...). */
hd_status hd_header_append(hd_buf *out, const char *name, const char *value,
			   size_t n, int address_list);

struct hd_mailbox; /* address.h */

/* hd_header_append(out, name, value, n, 1) for a value the caller has
 * parsed already: list[0..count) is what hd_mailbox_list_parse() gave
 * for it, written without parsing it again. */
hd_status hd_header_append_mailboxes(hd_buf *out, const char *name,
				     const char *value, size_t n,
				     const struct hd_mailbox *list,
				     size_t count);

/* Appends a MIME parameter (RFC 2045 section 5.1) to a Content-Type or
 * Content-Disposition value: '; name="value"' when value is printable
 * ASCII without '"', '\' or "=?" and ' name="value";' fits in 78
 * characters; else the RFC 2231 form '; name*=UTF-8''%E2%82%AC...' with
 * everything outside the attribute-char set percent-encoded, split into
 * '; name*0*=UTF-8''...; name*1*=...' continuations (section 3) so that
 * each piece fits on a line of 78 of its own, never cutting a UTF-8
 * character.  Output is one line with blanks between parameters, so
 * hd_header_append() can fold it.  HD_EINVAL for a name that is not an
 * RFC 2231 attribute (1..64 token characters without * ' %) or a NULL
 * value, HD_EUTF8 for a value that is not UTF-8. */
hd_status hd_mime_param(hd_buf *out, const char *name, const char *value);

#endif

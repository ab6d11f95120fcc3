/*
 * recode.h — recipients files in other encodings than UTF-8 (internal).
 *
 *	hd__recode()	     converts a file to UTF-8 with iconv(3) into an
 *			     unlinked temporary file (--encoding NAME)
 *	hd__guess_encoding() names the encoding bytes that are not UTF-8
 *			     probably are in, for the hint of an error
 *
 * Spreadsheets save "CSV" in the system's legacy code page (Windows-1252
 * in Western Europe, Windows-1251 for Cyrillic) or as UTF-16 ("Unicode
 * text").  herald reads UTF-8 only; rather than guess silently, it says
 * what the file looks like and reads it when told.  No state: safe from
 * any thread.
 */
#ifndef HD_RECODE_H
#define HD_RECODE_H

#include "herald.h"

#include <stddef.h>

/* 1 when name means UTF-8 itself (no conversion): NULL, "", "UTF-8",
 * "utf8" in any case. */
int hd__encoding_is_utf8(const char *name);

/* Reads fd to its end, converting from encoding to UTF-8, into a new
 * unlinked file in $TMPDIR; *out is its descriptor at offset 0.  name is
 * the input's name for errors.  HD_EUSAGE when iconv does not know the
 * encoding; HD_EUTF8 when a byte sequence is not valid in it (err->line:
 * its line); HD_EIO on read, write or temporary-file failures. */
hd_status hd__recode(int fd, const char *name, const char *encoding, int *out,
		     hd_error *err);

/* An iconv name for what p[0..n), which is not valid UTF-8, most likely
 * is: "UTF-16LE"/"UTF-16BE" (every other byte NUL), "WINDOWS-1252"
 * (bytes above 0x7F alone between ASCII: accented Latin letters),
 * "WINDOWS-1251" (runs of them in 0xC0..0xFF: Cyrillic words); NULL when
 * it looks like none of these. */
const char *hd__guess_encoding(const unsigned char *p, size_t n);

#endif

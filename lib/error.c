/* error.c — the error enum's messages and the hd_error helpers. */
#include "escape.h"
#include "herald.h"

#include <stdio.h>
#include <string.h>

static const char *const messages[] = {
#define HD__MSG(name, msg) msg,
    HD_ERRNO_MAP(HD__MSG)
#undef HD__MSG
};

static const char *const names[] = {
#define HD__NAME(name, msg) #name,
    HD_ERRNO_MAP(HD__NAME)
#undef HD__NAME
};

const char *hd_strerror(hd_status code)
{
	if ((unsigned)code >= HD__STATUS_COUNT)
		return "unknown error";
	return messages[code];
}

const char *hd_status_name(hd_status code)
{
	if ((unsigned)code >= HD__STATUS_COUNT)
		return "UNKNOWN";
	return names[code];
}

void hd_error_clear(hd_error *err)
{
	/* field by field: every row clears one or two, and the texts are
	 * read only up to their NUL */
	if (!err)
		return;
	err->code = HD_OK;
	err->file[0] = '\0';
	err->line = 0;
	err->column = 0;
	err->row = 0;
	err->field[0] = '\0';
	err->msg[0] = '\0';
}

hd_status hd_error_vset(hd_error *err, hd_status code, const char *file,
			long line, long column, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	/* every field: a row or field left from an earlier error would be
	 * blamed for this one */
	err->code = code;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line;
	err->column = column;
	err->row = 0;
	err->field[0] = '\0';
	if (fmt)
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	else
		snprintf(err->msg, sizeof(err->msg), "%s", hd_strerror(code));
	return code;
}

hd_status hd_error_set(hd_error *err, hd_status code, const char *file,
		       long line, long column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hd_error_vset(err, code, file, line, column, fmt, ap);
	va_end(ap);
	return code;
}

void hd_error_set_field(hd_error *err, const char *field)
{
	if (err && field)
		snprintf(err->field, sizeof(err->field), "%s", field);
}

/* Bytes of the UTF-8 sequence that starts at p, by its lead byte. */
static size_t seq_want(unsigned char c)
{
	return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

size_t hd_printable(char *out, size_t size, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, used = 0; /* escaped length, bytes written */
	int full = 0;

	while (*p) {
		char esc[5];
		size_t k = 1, m;
		const char *src = esc;

		if (*p < 0x20 || *p == 0x7f) {
			const char *named = *p == '\n'	 ? "\\n"
					    : *p == '\r' ? "\\r"
					    : *p == '\t' ? "\\t"
							 : NULL;
			if (named)
				memcpy(esc, named, 3);
			else
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
		} else if (*p < 0x80) {
			src = (const char *)p;
		} else {
			size_t want = seq_want(*p), len = 0;
			while (len < want && p[len])
				len++;
			if (len == want &&
			    hd_utf8_valid((const char *)p, len, NULL) &&
			    !(p[0] == 0xC2 && p[1] < 0xA0)) {
				src = (const char *)p;
				k = len;
			} else {
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
			}
		}
		m = src == esc ? strlen(esc) : k;
		/* whole characters and escapes only: once one does not fit,
		 * the line ends there */
		if (!full && used + m < size) {
			memcpy(out + used, src, m);
			used += m;
		} else {
			full = 1;
		}
		n += m;
		p += k;
	}
	if (size)
		out[used] = '\0';
	return n;
}

size_t hd_error_format(const hd_error *err, char *out, size_t size)
{
	char place[400] = "",
	     raw[sizeof(place) + sizeof(err->field) + sizeof(err->msg) + 16];
	size_t n = 0;
	int w;

	if (size)
		out[0] = '\0';
	if (!err)
		return 0;
	if (err->file[0]) {
		if (err->line > 0 && err->column > 0)
			w = snprintf(place, sizeof(place),
				     "%s:%ld:%ld: ", err->file, err->line,
				     err->column);
		else if (err->line > 0)
			w = snprintf(place, sizeof(place),
				     "%s:%ld: ", err->file, err->line);
		else
			w = snprintf(place, sizeof(place), "%s: ", err->file);
		n = w > 0 ? (size_t)w : 0;
		if (n >= sizeof(place))
			n = sizeof(place) - 1;
	}
	if (err->row > 0) {
		w = snprintf(place + n, sizeof(place) - n,
			     "row %ld: ", err->row);
		if (w > 0)
			n += (size_t)w;
		if (n >= sizeof(place))
			n = sizeof(place) - 1;
	}
	if (err->field[0])
		snprintf(raw, sizeof(raw), "%sfield '%s': %s", place,
			 err->field,
			 err->msg[0] ? err->msg : hd_strerror(err->code));
	else
		snprintf(raw, sizeof(raw), "%s%s", place,
			 err->msg[0] ? err->msg : hd_strerror(err->code));
	return hd_printable(out, size, raw);
}

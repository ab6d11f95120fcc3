/* error.c — the error enum's messages and the hd_error helpers. */
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
	if (err)
		memset(err, 0, sizeof(*err));
}

hd_status hd_error_vset(hd_error *err, hd_status code, const char *file,
			long line, long column, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	err->code = code;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line;
	err->column = column;
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

size_t hd_error_format(const hd_error *err, char *out, size_t size)
{
	char place[400] = "";
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
		w = snprintf(out, size, "%sfield '%s': %s", place, err->field,
			     err->msg[0] ? err->msg : hd_strerror(err->code));
	else
		w = snprintf(out, size, "%s%s", place,
			     err->msg[0] ? err->msg : hd_strerror(err->code));
	return w > 0 ? (size_t)w : 0;
}

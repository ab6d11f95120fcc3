/* redact.c — secrets, credential fields and control bytes out of wire
 * text; see redact.h. */
#include "redact.h"

#include "escape.h"

#include <string.h>
#include <strings.h>

/* Names of fields whose value is a credential, compared without regard
 * to case; '=' only: names that are words too, and only a "name=value"
 * pair says it is a field. */
static const struct {
	const char *name;
	int eq_only;
} fields[] = {
    {"password", 0},	  {"passwd", 0},	{"pwd", 1},
    {"pass", 1},	  {"secret", 0},	{"token", 0},
    {"access_token", 0},  {"refresh_token", 0}, {"api_key", 0},
    {"apikey", 0},	  {"api-key", 0},	{"session", 0},
    {"session_id", 0},	  {"sessionid", 0},	{"sid", 1},
    {"authorization", 0}, {"cookie", 0},	{"auth", 1},
};

/* Schemes that come before the credential in Authorization values. */
static const char *const schemes[] = {"Bearer", "Basic", "Token", "Digest"};

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int ends_value(char c)
{
	return !c || strchr(" \t\r\n,;&\"'<>()[]{}", c) != NULL;
}

/* Replaces s[a..b) by "***" (or as many '*' when shorter). */
static void mask(char *s, size_t a, size_t b)
{
	size_t n = b - a, m = n < 3 ? n : 3;

	memmove(s + a + m, s + b, strlen(s + b) + 1);
	memcpy(s + a, "***", m);
}

/* If a credential field's name starts at s[i], masks its value and
 * returns where to go on; else returns i + 1. */
static size_t field_at(char *s, size_t i)
{
	/* a name starts a word, and every name starts with a letter */
	if ((i > 0 && is_name_char(s[i - 1])) ||
	    !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		return i + 1;
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
		size_t n, j, a, b;
		int quoted = 0;

		if ((s[i] | 0x20) != fields[k].name[0])
			continue;
		n = strlen(fields[k].name);
		j = i + n;
		if (strncasecmp(s + i, fields[k].name, n) != 0 ||
		    is_name_char(s[j]))
			continue;
		if (s[j] == '"') {
			j++;
			quoted = 1;
		}
		while (s[j] == ' ')
			j++;
		if (s[j] != '=' && !(s[j] == ':' && !fields[k].eq_only))
			continue;
		j++;
		while (s[j] == ' ' || (quoted && s[j] == '"'))
			j++;
		if (s[j] == '"')
			j++;
		for (size_t m = 0; m < sizeof(schemes) / sizeof(schemes[0]);
		     m++) {
			size_t sl = strlen(schemes[m]);
			if (!strncasecmp(s + j, schemes[m], sl) &&
			    s[j + sl] == ' ')
				for (j += sl; s[j] == ' '; j++)
					;
		}
		for (a = j, b = j; !ends_value(s[b]); b++)
			;
		if (b == a)
			continue;
		mask(s, a, b);
		return a + (b - a < 3 ? b - a : 3);
	}
	return i + 1;
}

/* Header names that carry credentials: whole names, then parts. */
static const char *const secret_names[] = {"authorization",
					   "proxy-authorization", "cookie"};
static const char *const secret_parts[] = {
    "auth",   "token",	 "secret",    "password", "api-key",
    "apikey", "api_key", "signature", "session",
};

int hd__redact_secret_header(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(secret_names) / sizeof(*secret_names);
	     i++)
		if (strlen(secret_names[i]) == n &&
		    !strncasecmp(name, secret_names[i], n))
			return 1;
	/* every header of every request comes here: the first letter
	 * decides before a comparison is made */
	for (size_t k = 0; k < n; k++) {
		char c = (char)(name[k] | 0x20);
		for (size_t i = 0;
		     i < sizeof(secret_parts) / sizeof(*secret_parts); i++) {
			size_t m;
			if (secret_parts[i][0] != c)
				continue;
			m = strlen(secret_parts[i]);
			if (k + m <= n &&
			    !strncasecmp(name + k, secret_parts[i], m))
				return 1;
		}
	}
	return 0;
}

size_t hd__redact_utf8_len(const char *s, size_t n)
{
	unsigned char c = n ? (unsigned char)s[0] : 0;
	size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

	if (c < 0x80 || len > n || !hd_utf8_valid(s, len, NULL) ||
	    (c == 0xC2 && (unsigned char)s[1] < 0xA0))
		return 0;
	return len;
}

void hd__redact(char *s, const char *const *secrets, size_t n)
{
	size_t i;

	for (size_t k = 0; k < n; k++) {
		const char *sec = secrets[k];
		size_t sl = sec ? strlen(sec) : 0;
		char *p = s;

		if (sl < HD__REDACT_MIN)
			continue;
		while ((p = strstr(p, sec)) != NULL) {
			mask(s, (size_t)(p - s), (size_t)(p - s) + sl);
			p += 3;
		}
	}
	for (i = 0; s[i];)
		i = field_at(s, i);
	for (i = 0; s[i];) {
		unsigned char c = (unsigned char)s[i];
		size_t len;

		if (c < 0x20 || c == 0x7f) {
			s[i++] = '?';
			continue;
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		/* a whole sequence, valid and not a C1 control, stays */
		if ((len = hd__redact_utf8_len(s + i, strnlen(s + i, 4))) > 0) {
			i += len;
			continue;
		}
		s[i++] = '?';
	}
}

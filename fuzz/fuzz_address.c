/*
 * fuzz_address.c — the address check and the address-list parser
 * (lib/address.c), and writing an address list into a header
 * (lib/encode.c), which must keep exactly those recipients.
 *
 * Input: the value of an address header (From, To, Cc, ...), as a
 * template's rendering hands it over.
 *
 * Promises checked:
 *   - hd_address_check accepts only what can go into RCPT TO and a To:
 *     header as it is: printable ASCII, no blank, one '@', <= 254 bytes;
 *   - hd_mailbox_list_parse hands out addresses that pass the check and
 *     display names that are UTF-8 without line breaks, within the limits;
 *   - hd_header_append(..., address_list = 1) writes 7-bit lines within
 *     998 octets ending in CRLF, folded only before blanks, and parsing
 *     the unfolded value again gives the same addresses in the same order;
 *   - every failure is one printable line with a documented code.
 */
#define _GNU_SOURCE /* memrchr */
#include "address.h"
#include "encode.h"
#include "escape.h"
#include "fuzz.h"

#include <string.h>

static void check_address(const char *a, size_t n)
{
	FUZZ_ASSERT(n > 0 && n <= HD_ADDRESS_MAX, "address of %zu bytes", n);
	FUZZ_ASSERT(memchr(a, '@', n) &&
			memchr(a, '@', n) == memrchr(a, '@', n),
		    "address '%.*s' without exactly one @", (int)n, a);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];
		FUZZ_ASSERT(c > 0x20 && c < 0x7f && !strchr("<>,;:\"()[]\\", c),
			    "address '%.*s' holds byte 0x%02x", (int)n, a, c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const hd_status list_codes[] = {HD_EADDRESS, HD_EUTF8,
					       HD_ELIMIT};
	static const hd_status header_codes[] = {HD_EADDRESS, HD_EUTF8,
						 HD_ELIMIT, HD_EHEADER};
	const char *s = (const char *)data;
	hd_mailbox *list = NULL, *again = NULL;
	size_t count = 0, count2 = 0;
	hd_buf hdr = HD_BUF_INIT, unfolded = HD_BUF_INIT;
	hd_error err;
	hd_status rc;

	rc = hd_address_check(s, size, &err);
	if (rc == HD_OK)
		check_address(s, size);
	else
		fuzz_check_error(&err, rc, "address check");

	rc = hd_mailbox_list_parse(s, size, &list, &count, &err);
	if (rc != HD_OK) {
		FUZZ_CHECK_FAILURE(&err, rc, "list parse", list_codes);
		FUZZ_ASSERT(!list && !count,
			    "a failed parse handed out a list");
	} else {
		FUZZ_ASSERT(count > 0 && count <= HD_MAILBOX_LIST_MAX,
			    "%zu mailboxes", count);
		for (size_t i = 0; i < count; i++) {
			const char *d = list[i].display;
			check_address(list[i].addr, strlen(list[i].addr));
			FUZZ_ASSERT(!d || (strlen(d) <= HD_DISPLAY_NAME_MAX &&
					   !strpbrk(d, "\r\n") &&
					   hd_utf8_valid(d, strlen(d), NULL)),
				    "display name '%s'", d);
		}
	}

	rc = hd_header_append(&hdr, "To", s, size, 1);
	if (rc != HD_OK) {
		FUZZ_CHECK_FAILURE(NULL, rc, "header", header_codes);
		FUZZ_ASSERT(hdr.len == 0, "a failed header left %zu bytes",
			    hdr.len);
		goto out;
	}
	FUZZ_ASSERT(list != NULL, "a header written from a list that does "
				  "not parse");
	FUZZ_ASSERT(hdr.len >= 6 && memcmp(hdr.data, "To: ", 4) == 0 &&
			memcmp(hdr.data + hdr.len - 2, "\r\n", 2) == 0,
		    "header '%s'", hdr.data);
	for (size_t i = 4, run = 4; i < hdr.len; i++) {
		unsigned char c = (unsigned char)hdr.data[i];
		FUZZ_ASSERT(c < 0x80 && c != 0, "8-bit byte in '%s'", hdr.data);
		if (c == '\r') {
			FUZZ_ASSERT(i + 1 < hdr.len && hdr.data[i + 1] == '\n',
				    "bare CR in '%s'", hdr.data);
			FUZZ_ASSERT(
			    i + 2 == hdr.len || hdr.data[i + 2] == ' ' ||
				hdr.data[i + 2] == '\t',
			    "a fold not before a blank in '%s'", hdr.data);
			i++;
			run = 0;
			continue;
		}
		FUZZ_ASSERT(c != '\n', "bare LF in '%s'", hdr.data);
		FUZZ_ASSERT(++run <= HD_LINE_HARD_MAX,
			    "a line over 998 octets in '%s'", hdr.data);
	}
	for (size_t i = 4; i + 2 < hdr.len; i++) {
		if (hdr.data[i] == '\r' && hdr.data[i + 1] == '\n') {
			i++;
			continue;
		}
		hd_buf_putc(&unfolded, hdr.data[i]);
	}
	rc = hd_mailbox_list_parse(unfolded.data ? unfolded.data : "",
				   unfolded.len, &again, &count2, &err);
	if (rc == HD_ELIMIT)
		goto out; /* herald's own input limits (a display name of 256
			     bytes) count encoded-words whole */
	FUZZ_ASSERT(rc == HD_OK, "the written header does not parse: %s: '%s'",
		    err.msg, hdr.data);
	FUZZ_ASSERT(count2 == count, "%zu mailboxes written, %zu read back",
		    count, count2);
	for (size_t i = 0; i < count; i++)
		FUZZ_ASSERT(strcmp(list[i].addr, again[i].addr) == 0,
			    "mailbox %zu: '%s' written as '%s'", i + 1,
			    list[i].addr, again[i].addr);
out:
	hd_mailbox_list_free(list, count);
	hd_mailbox_list_free(again, count2);
	hd_buf_free(&hdr);
	hd_buf_free(&unfolded);
	return 0;
}

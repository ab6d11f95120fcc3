/*
 * fuzz_journal.c — reading a journal (lib/journal.c): its header, its
 * records, a torn last line, and the index a rerun asks.
 *
 * Input: the journal file.  It is opened read-only (as check and a dry
 * run do: no lock, no change), then every key the harness can think of
 * is looked up: those the input names in "key" fields, and a few others.
 *
 * Promises checked:
 *   - opening fails only with HD_EPARSE, HD_EIO or HD_ENOMEM, as one
 *     printable line naming the file;
 *   - a journal that opens has a campaign, a key count, and answers every
 *     lookup with a known state (or HD_EIO), the same twice;
 *   - the file is not changed by reading it.
 */
#define _GNU_SOURCE /* memmem */
#include "fuzz.h"
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void look(hd_journal *j, const char *id)
{
	hd__jinfo a, b;
	hd_error err;
	hd_status rc = hd__journal_lookup(j, id, &a, &err);

	if (rc != HD_OK) {
		FUZZ_ASSERT(rc == HD_EIO, "lookup failed with %s",
			    hd_status_name(rc));
		return;
	}
	FUZZ_ASSERT(a.state >= HD__J_NONE && a.state <= HD__J_NOT_ATTEMPTED,
		    "state %d for '%s'", (int)a.state, id);
	FUZZ_ASSERT(memchr(a.error, 0, sizeof(a.error)) &&
			memchr(a.at, 0, sizeof(a.at)),
		    "unterminated text for '%s'", id);
	FUZZ_ASSERT(hd__journal_lookup(j, id, &b, &err) == HD_OK &&
			b.state == a.state && b.started_only == a.started_only,
		    "'%s' changed its state", id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const hd_status codes[] = {HD_EPARSE, HD_EIO, HD_ENOMEM};
	static const char *const others[] = {"", "a@example.com", "x",
					     "ANN@EXAMPLE.COM"};
	const char *path = fuzz_write(NULL, "j.jsonl", data, size);
	hd_journal *j = NULL;
	struct stat before, after;
	hd_error err;
	hd_status rc;
	const uint8_t *p = data, *end = data + size;

	FUZZ_ASSERT(stat(path, &before) == 0, "no file");
	rc = hd__journal_open(path, 0, NULL, "fuzz", &j, &err);
	if (rc != HD_OK) {
		FUZZ_CHECK_FAILURE(&err, rc, "open", codes);
		return 0;
	}
	FUZZ_ASSERT(hd__journal_campaign(j) && hd__journal_campaign(j)[0],
		    "no campaign");
	(void)hd__journal_keys(j);
	for (size_t i = 0; i < sizeof(others) / sizeof(*others); i++)
		look(j, others[i]);
	/* the keys the input names: "key":"..." */
	while (p < end &&
	       (p = memmem(p, (size_t)(end - p), "\"key\":\"", 7)) != NULL) {
		const uint8_t *q;
		char id[256];
		size_t n;
		p += 7;
		q = memchr(p, '"', (size_t)(end - p));
		if (!q)
			break;
		n = (size_t)(q - p) < sizeof(id) - 1 ? (size_t)(q - p)
						     : sizeof(id) - 1;
		memcpy(id, p, n);
		id[n] = '\0';
		if (!memchr(id, 0, n))
			look(j, id);
		p = q;
	}
	FUZZ_ASSERT(hd__journal_close(j, &err) == HD_OK, "close failed");
	FUZZ_ASSERT(stat(path, &after) == 0 &&
			after.st_size == before.st_size &&
			after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
			after.st_mtim.tv_nsec == before.st_mtim.tv_nsec,
		    "reading the journal changed it");
	return 0;
}

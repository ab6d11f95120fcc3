/*
 * suppress.h — the suppression list: recipients herald must not write to
 * (internal).
 *
 * SYNOPSIS
 *	hd_suppress *s;
 *	if (hd__suppress_load("suppressed.txt", &s, &err) != HD_OK) ...
 *	switch (hd__suppress_has(s, key, strlen(key))) {
 *	case 1:  ... skip the row, reason "suppressed" ...
 *	case 0:  ... go on ...
 *	case -1: ... the file could not be read back: stop (HD_EIO) ...
 *	}
 *	hd__suppress_free(s);
 *
 *	if (hd__suppress_reply_means_gone(res.code, res.response))
 *		hd__suppress_add("suppressed.txt", key, &err);
 *
 * THE FILE
 *	Text, one entry a line: a recipient key or an email address, as the
 *	unsubscribe server and --suppress-add write them.  Blanks around an
 *	entry are ignored, and so are blank lines and comments: a line whose
 *	first non-blank character is '#' followed by a blank or the line end
 *	("# bounced in May", "#").  A '#' followed by anything else starts an
 *	entry, because "#team@example.com" is a valid address and a person
 *	must never be unsuppressed by the comment syntax; a hand-written
 *	"#note" is thus an entry that matches nobody, which is harmless.
 *	CRLF line ends are accepted.  An entry is at most
 *	HD_SUPPRESS_ENTRY_MAX bytes and holds no control character (a
 *	longer or binary line is an error naming the file and line, HD_EPARSE:
 *	it is not a suppression list).
 *
 * MATCHING
 *	Exact, never approximate: a recipient is suppressed only when an
 *	entry equals its key, so a hash collision cannot drop a person.
 *	Entries and keys holding an '@' are addresses and compare
 *	case-insensitively as a whole (ASCII letters), local part included:
 *	RFC 5321 lets a local part be case-sensitive, but no mailbox provider
 *	treats Ann@ and ann@ as two people, and the cost of the other choice
 *	would be writing to someone who asked us to stop.  Other keys
 *	compare byte for byte.
 *
 * MEMORY
 *	One 64-bit word per entry, whatever its length: the high 32 bits
 *	are a hash of the normalised entry (hd_key_hash), the low 32 bits the
 *	offset of its line in the file, sorted.  A probe binary-searches its
 *	hash and, for each entry with that hash, reads the line back from
 *	the file (pread on the descriptor kept open) and compares it
 *	exactly.  A million entries take 8 MB; a probe that is not in the
 *	list costs about one verification read per 4,000 probes per million
 *	entries (the chance that 32 bits collide).  bench/bench_suppress
 *	measures it.  The file is counted first, so the table is allocated
 *	once at its final size; the file may be at most 4 GiB.
 *
 * CONSISTENCY
 *	The list is what the file held when hd__suppress_load took a shared
 *	flock on it; appends made later (the unsubscribe server, another
 *	run's --suppress-add) are not seen by this run, and cannot disturb
 *	it: they only add bytes after the offsets it keeps.  A file that is
 *	rewritten in place while a run is going (not replaced by a rename:
 *	the run keeps the old one open) can make probes miss; edit it between
 *	runs, or write a new file and rename it over.
 *
 * APPENDING
 *	hd__suppress_add appends "KEY\n" under an exclusive flock, adding a
 *	line end first when the file's last line lacks one, and fdatasync()s
 *	before it returns, so an unsubscribe that was answered 200 survives
 *	a crash.  It creates the file (mode 0640 less the umask) when it is
 *	missing.  A key that could not be read back as the same entry is
 *	refused with HD_EINVAL: empty, longer than HD_SUPPRESS_ENTRY_MAX,
 *	holding a control character, starting or ending with a blank, or
 *	looking like a comment.
 *
 * ERRORS
 *	hd__suppress_load: HD_ENOENT when the file is missing or unreadable
 *	(a missing list is an error, never "nobody is suppressed": a typo in
 *	the path must not mail everyone who unsubscribed; create an empty
 *	file to start), HD_EPARSE for a bad line, HD_ELIMIT over 4 GiB,
 *	HD_ENOMEM.  hd__suppress_add: HD_EINVAL (above), HD_ECREATE when
 *	the file cannot be opened for appending, HD_EIO when the write or
 *	the sync fails.  Errors name the file (and line).
 *
 * THREAD-SAFETY
 *	A loaded list is read-only: hd__suppress_has may be called from any
 *	number of threads at once.  hd__suppress_add may be called from any
 *	thread and any process; the flock orders the writers.
 */
#ifndef HD_SUPPRESS_H
#define HD_SUPPRESS_H

#include "herald.h"

#include <stddef.h>

#define HD_SUPPRESS_ENTRY_MAX 1024

typedef struct hd_suppress hd_suppress;

hd_status hd__suppress_load(const char *path, hd_suppress **out, hd_error *err);

/* Frees s and closes its file; NULL is allowed. */
void hd__suppress_free(hd_suppress *s);

/* 1 when key[0..len) is on the list, 0 when not, -1 when an entry could
 * not be read back from the file to verify it. */
int hd__suppress_has(const hd_suppress *s, const char *key, size_t len);

/* Number of entries loaded (duplicates counted). */
size_t hd__suppress_count(const hd_suppress *s);

/* Appends key to the list at path (see APPENDING). */
hd_status hd__suppress_add(const char *path, const char *key, hd_error *err);

/* 1 when an SMTP reply says the recipient address does not exist and
 * never will (so it belongs on the list), else 0.  code is the reply code
 * (550), reply the text after it ("5.1.1 User unknown").  With an
 * enhanced status code (RFC 3463) the code decides:
 *   5.1.1  bad destination mailbox address (no such user)
 *   5.1.2  bad destination system address (no such domain)
 *   5.1.6  mailbox has moved, no forwarding address
 *   5.1.10 recipient address has a null MX (RFC 7505)
 *   5.2.1  mailbox disabled, not accepting messages
 * and nothing else does: policy (5.7.x), a full mailbox (5.2.2), a
 * routing problem (5.4.x) or a syntax quarrel (5.1.3) say nothing about
 * the person.  Without one, a 550 or 551 whose text says plainly that the
 * user is unknown ("user unknown", "no such user", ...) counts; a bare
 * 550, which servers also use for spam and policy refusals, does not. */
int hd__suppress_reply_means_gone(long code, const char *reply);

#endif

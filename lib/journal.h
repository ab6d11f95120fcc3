/*
 * journal.h — the durable record of a campaign's sends (internal).
 *
 * DESCRIPTION
 *	A journal is an append-only JSON Lines file that says, for every
 *	row herald tried to send, that an attempt started and how the row
 *	ended.  The start of an attempt is on disk before anything of the
 *	message goes out, so after a crash a rerun knows which rows are
 *	done (skip them), which never went (send them) and which were in
 *	flight (uncertain: --on-uncertain decides).  Rows are matched by
 *	their key's identity, not their position, so the list may change
 *	between runs.
 *
 * FORMAT
 *	{"herald_journal":1,"campaign":"C","created":"2026-12-03T10:00:00.000Z"}
 *	{"start":12,"key":"ann@example.com","attempt":1,"at":"..."}
 *	{"retry":12,"key":"ann@example.com","attempt":1,"at":"..."}
 *	{"end":12,"key":"ann@example.com","status":"sent","code":250,
 *	 "message_id":"<...>","error":null,"at":"..."}
 *
 *	The first line names the format and the campaign (whose id seeds
 *	Message-IDs and Idempotency-Keys, so they stay the same on every
 *	rerun).  For one key, the last record decides: "start" (no outcome
 *	followed: uncertain), "retry" (that attempt failed and nothing was
 *	delivered), "end" with the row's status.  "sent" is final: later
 *	records cannot undo it.  A last line without its newline (a crash
 *	mid-write) is ignored, and cut off before anything is appended;
 *	any other line that is not a journal record makes the file foreign.
 *
 * LOCKING
 *	A journal opened for writing is held under an exclusive lock (an
 *	fcntl record lock on the whole file) until it is closed; a second
 *	run gets HD_ELOCKED at once, with the holder's pid in the message.
 *	The process must not open the file a second time while it holds
 *	it: closing any descriptor of the file would drop the lock.
 *
 * MEMORY
 *	Opening reads the file once and keeps, per key recorded, 16 bytes
 *	(a 64-bit hash, the offset of the key's deciding record and its
 *	state) in an open-addressing table filled to at most 3/4.  Lookups
 *	read the deciding record back from the file and compare the key
 *	exactly, so a hash collision can never skip a row.  A first run
 *	(an empty journal) keeps nothing.
 *
 * LIVE
 *	A run that reads its list twice looks keys up in what the journal
 *	held when it was opened: a row is decided once, by what earlier runs
 *	did.  A long-lived run (herald consume, whose entries may come back
 *	or repeat a key) calls hd__journal_live: from then on every flushed
 *	record goes into the index too, so a lookup sees what this run
 *	recorded, once it is on disk.
 *
 * THREAD-SAFETY
 *	Lookups on the coordinating thread; appends and flushes on the
 *	committer thread alone.  Without live, the index does not change
 *	after opening; with live, a mutex (a leaf) guards it between the
 *	committer's flush and the lookups.
 */
#ifndef HD_JOURNAL_H
#define HD_JOURNAL_H

#include "herald.h"
#include "report.h"

#include <stddef.h>

typedef struct hd_journal hd_journal;

/* What the journal says of a key. */
typedef enum hd__jstate {
	HD__J_NONE = 0,	     /* never recorded */
	HD__J_FAILED,	     /* recorded, not delivered */
	HD__J_UNCERTAIN,     /* may have been delivered */
	HD__J_SENT,	     /* delivered */
	HD__J_NOT_ATTEMPTED, /* ended without an attempt going out */
} hd__jstate;

typedef struct hd__jinfo {
	hd__jstate state;
	int started_only; /* uncertain because the run ended mid-attempt */
	char at[32];	  /* when the deciding record was written */
	char error[300];  /* a recorded outcome's error, or "" */
} hd__jinfo;

/* Opens (creating it when missing) path for a run of campaign (NULL: the
 * journal's own, or a new one made by new_campaign when the journal is
 * new).  writable 0 reads only: no lock, no change (check, dry run).
 * Errors: HD_ELOCKED (another run holds it: err names the pid),
 * HD_EPARSE (not a journal; a line that is not a record),
 * HD_EUSAGE (campaign differs from the journal's), HD_ECREATE (cannot be
 * created or written), HD_ENOENT (read-only and missing is fine: then
 * *out is an empty journal), HD_ENOMEM. */
hd_status hd__journal_open(const char *path, int writable, const char *campaign,
			   const char *new_campaign, hd_journal **out,
			   hd_error *err);

/* Flushed records go into the index from now on (LIVE).  Before the
 * committer starts. */
void hd__journal_live(hd_journal *j);

/* The campaign the journal belongs to. */
const char *hd__journal_campaign(const hd_journal *j);

/* Number of keys the journal knows. */
size_t hd__journal_keys(const hd_journal *j);

/* What the journal says of identity id.  HD_OK (info->state may be
 * HD__J_NONE), or HD_EIO when the record cannot be read back. */
hd_status hd__journal_lookup(hd_journal *j, const char *id, hd__jinfo *info,
			     hd_error *err);

/* Appending (the committer thread): records go into a buffer, then
 * hd__journal_flush writes them in one write and, with sync, waits for
 * the disk (fdatasync).  at is seconds since the epoch. */
hd_status hd__journal_add_start(hd_journal *j, long row, const char *id,
				int attempt, double at);
hd_status hd__journal_add_retry(hd_journal *j, long row, const char *id,
				int attempt, double at);
hd_status hd__journal_add_end(hd_journal *j, const hd_report_row *r,
			      const char *id);
hd_status hd__journal_flush(hd_journal *j, int sync, hd_error *err);

/* Flushes, syncs, unlocks and frees.  NULL is allowed. */
hd_status hd__journal_close(hd_journal *j, hd_error *err);

#endif

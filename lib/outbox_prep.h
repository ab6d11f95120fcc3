/*
 * outbox_prep.h — an outbox folder before a run writes into it (internal).
 *
 * The outbox transport writes row N's message to DIR/NNNNNN.eml (or
 * .http).  Files an earlier run left there would sit beside this run's
 * as if they were its own (a list of 100 after a list of 5,000 leaves
 * 4,900 messages nobody sent now), so a folder that holds any such file
 * is refused, unless the run continues the one that wrote them (a
 * journal that has recorded rows, --only-failed) or --outbox-clean asks
 * to remove them first.  Only files of that name are looked at or
 * removed; anything else in the folder is left alone.
 *
 * Called on the coordinating thread, before any worker starts.
 */
#ifndef HD_OUTBOX_PREP_H
#define HD_OUTBOX_PREP_H

#include "herald.h"

/* HD_OK: dir does not exist, holds no earlier message, continues is set,
 * or clean removed them (*removed says how many).  HD_EUSAGE: earlier
 * messages are there (err says how many, one of their names and what
 * to do).  HD_ECREATE: one could not be removed. */
hd_status hd__outbox_prepare(const char *dir, int clean, int continues,
			     long *removed, hd_error *err);

#endif

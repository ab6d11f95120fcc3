/*
 * address.h — email addresses: one mailbox check, mailbox-list parsing.
 *
 * SYNOPSIS
 *	if (hd_address_check(addr, len, &err) != HD_OK) ... err.msg ...
 *
 *	hd_mailbox *list; size_t count;
 *	hd_mailbox_list_parse(value, len, &list, &count, &err);
 *	... list[i].display, list[i].addr ...
 *	hd_mailbox_list_free(list, count);
 *
 * DESCRIPTION
 *	hd_address_check() says whether an address can go both into the SMTP
 *	envelope (MAIL FROM, RCPT TO; RFC 5321 section 4.1.2) and into a To:
 *	header as a bare addr-spec (RFC 5322 section 3.4.1).  It accepts
 *	exactly
 *
 *	    dot-atom-text "@" label *("." label)
 *
 *	where dot-atom-text is RFC 5322 atext (letters, digits and
 *	!#$%&'*+-/=?^_`{|}~) split by single dots, and a label is 1..63
 *	letters, digits or hyphens, not starting or ending with a hyphen
 *	(RFC 1035 section 2.3.1, RFC 5321 section 4.1.2 "Domain").
 *	Lengths follow RFC 5321 section 4.5.3.1: local part <= 64 octets,
 *	domain <= 255, the whole address <= 254 (the 256-octet path less
 *	its angle brackets).
 *
 *	Policy, graded with the isemail corpus (tests/test_address.c):
 *	  - VALID and DNSWARN addresses: accepted (DNS is not consulted).
 *	  - Comments, folding whitespace, obsolete syntax (isemail CFWS,
 *	    DEPREC) and everything that is only RFC 5322 (over-long parts,
 *	    domain literals): rejected.  A bulk sender writes the address
 *	    into RCPT TO, where none of them is allowed.
 *	  - RFC 5321-only forms, decided one by one:
 *	    * quoted local parts ("john doe"@example.com): rejected.
 *	      RFC 5321 section 4.1.2 tells hosts to avoid them, they are
 *	      far more often a data error than a real mailbox, and a quoted
 *	      local part may hold "@", which tools that split an address at
 *	      its first "@" (libcurl does, to find the host for IDN) get
 *	      wrong.
 *	    * address literals (user@[192.0.2.1], user@[IPv6:...]):
 *	      rejected.  They bypass MX routing, receiving systems refuse
 *	      them, and in a recipients list they are a sign of junk.
 *	    * a domain that is a top-level domain alone (user@io):
 *	      accepted.  It is valid, a few TLDs do have MX records (the
 *	      corpus grades test@io as VALID), and offline there is no way
 *	      to tell those from the others.
 *	    * an all-numeric top-level domain (user@example.123,
 *	      user@192.0.2.1): rejected.  No TLD is all digits (RFC 3696
 *	      section 2), so such a domain is a mistyped address literal or
 *	      an error.
 *	  - Any byte above 0x7F is refused with "non-ASCII address needs
 *	    SMTPUTF8": herald does not speak SMTPUTF8 (RFC 6531).  An
 *	    internationalised domain must be given in its A-label (xn--)
 *	    form.  CR, LF, NUL and every other control character are
 *	    refused in any position.
 *
 *	hd_mailbox_list_parse() reads the value of a From/To/Cc/Bcc/Reply-To
 *	header as this subset of RFC 5322 section 3.4 address-list:
 *
 *	    list    = mailbox *("," mailbox)
 *	    mailbox = addr-spec / [display-name] "<" addr-spec ">"
 *	    display-name = word *(word / ".")	(words: atoms and
 *			   quoted-strings with \-escapes; raw UTF-8 allowed)
 *
 *	Blanks (space, TAB) are allowed around every token.  "." in an
 *	unquoted display name is accepted (RFC 5322 section 4.1 obs-phrase)
 *	because real names carry initials ("John Q. Public").  Not accepted:
 *	group syntax ("team: a@x, b@y;"), comments, empty entries ("a@x,,"),
 *	an empty list, route addresses.  Every addr-spec must pass
 *	hd_address_check().  A comma inside a quoted display name does not
 *	split.  The display name is decoded: quotes and \-escapes removed,
 *	each run of blanks between words made one space, quoted text kept
 *	byte for byte; RFC 2047 encoded-words are not decoded (the input is
 *	a template's output, not a received message).
 *
 * LIMITS
 *	HD_MAILBOX_LIST_MAX mailboxes, HD_MAILBOX_LIST_INPUT_MAX input bytes,
 *	HD_DISPLAY_NAME_MAX bytes of decoded display name; past them
 *	HD_ELIMIT.
 *
 * OWNERSHIP
 *	hd_mailbox_list_parse() hands back an array that the caller frees
 *	with hd_mailbox_list_free(); on failure *out is NULL and *count 0.
 *
 * THREAD-SAFETY
 *	No shared state: every function is safe from any thread.
 */
#ifndef HD_ADDRESS_H
#define HD_ADDRESS_H

#include "herald.h"

#include <stddef.h>

#define HD_ADDRESS_MAX 254	 /* RFC 5321 4.5.3.1.3, less "<>" */
#define HD_LOCAL_PART_MAX 64	 /* RFC 5321 4.5.3.1.1 */
#define HD_DOMAIN_MAX 255	 /* RFC 5321 4.5.3.1.2 */
#define HD_LABEL_MAX 63		 /* RFC 1035 2.3.4 */
#define HD_MAILBOX_LIST_MAX 1000 /* mailboxes in one header */
#define HD_MAILBOX_LIST_INPUT_MAX 65536
#define HD_DISPLAY_NAME_MAX 256

typedef struct hd_mailbox {
	char *display; /* decoded display name (unquoted, UTF-8) or NULL */
	char *addr;    /* addr-spec, passed hd_address_check() */
} hd_mailbox;

/* HD_OK when addr[0..len) is an acceptable mailbox (see above); else
 * HD_EADDRESS with err->msg saying why in a few words. */
hd_status hd_address_check(const char *addr, size_t len, hd_error *err);

/* Narrows s[*a..*b) to leave out the white space around it: blanks,
 * line breaks and the invisible spaces spreadsheets leave in cells
 * (U+00A0 no-break space, U+FEFF, U+200B). */
void hd_address_trim(const char *s, size_t *a, size_t *b);

/* Parses an address list (see above) into a new array of count mailboxes.
 * HD_EADDRESS for a syntax or address error, HD_EUTF8 for a display name
 * that is not UTF-8, HD_ELIMIT past a limit, HD_ENOMEM. */
hd_status hd_mailbox_list_parse(const char *s, size_t len, hd_mailbox **out,
				size_t *count, hd_error *err);

/* Frees what hd_mailbox_list_parse() returned; NULL is allowed. */
void hd_mailbox_list_free(hd_mailbox *list, size_t count);

#endif

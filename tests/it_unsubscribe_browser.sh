#!/usr/bin/env bash
# What a person does with an unsubscribe link: headless Chromium (Debian's
# chromium) opens the link from a message herald rendered, the confirm
# page loads without suppressing anyone, a mouse click on the button
# sends the form's POST, and exactly that recipient lands in the
# suppression list.  Driven over the DevTools protocol (tests/cdp_click.py,
# python3-websocket).
set -e
. "$(dirname "$0")/lib/it.sh"
. "$(dirname "$0")/lib/unsub.sh"
CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ] || ! "$PYTHON" -c 'import websocket' 2>/dev/null; then
  echo "SKIPPED: chromium and python3-websocket are needed (apt-get install chromium python3-websocket)" >&2
  exit 77
fi
cd "$TMP"

unsub_fixture
printf 'email,name\nann@example.com,Ann\nbob@example.com,Bob\n' >list.csv
UNSUB_TEMPLATE=u.eml UNSUB_ROWS=list.csv UNSUB_CAMPAIGN=autumn UNSUB_SECRET=secret
bob=$(unsub_token 2)
: >supp.txt
unsub_start srv secret supp.txt

pyrun "$SRC/tests/cdp_click.py" "$CHROMIUM" "$TMP/profile" "$UNSUB_URL/u/$bob" '#confirm' Unsubscribed supp.txt
expect_eq "$(cat supp.txt)" "bob@example.com" "the click suppressed exactly bob"
expect_match "$(cat srv.log)" "unsubscribed bob@example.com \(campaign autumn\)" "the server logged it"
unsub_stop srv
expect_eq "$unsub_rc" 0 "the server stopped cleanly"
finish

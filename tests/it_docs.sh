#!/usr/bin/env bash
# The user's documentation: the man pages pass mandoc's checks, every
# option of the option table is documented in herald(1) (so a new option
# cannot go undocumented), and no user document points outside the
# project.
set -e
. "$(dirname "$0")/lib/it.sh"
if ! command -v mandoc >/dev/null; then
  echo "SKIPPED: mandoc is not installed (apt-get install mandoc)" >&2
  exit 77
fi
M=$SRC/man
for page in herald.1 herald-templates.5; do
  set +e
  lint=$(mandoc -T lint -W warning "$M/$page" 2>&1)
  lrc=$?
  set -e
  expect_eq "$lrc:$lint" "0:" "mandoc -T lint: $page has no warnings or errors"
  mandoc -T utf8 "$M/$page" >"$TMP/$page.txt" 2>&1
  if [ "$(wc -l <"$TMP/$page.txt")" -gt 50 ]; then ok "$page renders"; else bad "$page renders to $(wc -l <"$TMP/$page.txt") lines"; fi
done
# every option, as an item of herald(1)'s option lists
missing=""
for o in $("$HERALD" completion options); do
  esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
  grep -Eq "^\\.It .*(Fl \\\\-|Cm )$esc( |$)" "$M/herald.1" || missing="$missing --$o"
done
expect_eq "$missing" "" "every option of the option table is documented in herald.1"
n=$("$HERALD" completion options | wc -l | tr -d ' ')
if [ "$n" -gt 30 ]; then ok "the table has $n options"; else bad "the table lists $n options"; fi
# every command too
for c in send check render consume enqueue report help version completion; do
  grep -q "^\\.It Cm $c" "$M/herald.1" || bad "herald.1 lacks the command $c"
done
ok "herald.1 documents every command"
# user documents are self-contained
docs=("$SRC/README.md" "$SRC/templates/README.md" "$M"/*)
[ -d "$SRC/docs" ] && docs+=("$SRC"/docs/*)
hits=$(grep -lE 'DESIGN\.md|STYLE\.md|NOTES-libcurl|\.\./shared' "${docs[@]}" 2>/dev/null || true)
expect_eq "$hits" "" "no user document points at files outside the project"
finish

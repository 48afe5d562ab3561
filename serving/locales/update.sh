#!/bin/sh
# Gathers the phone page's messages (`_()` in index.html, `t()` in app.js) into messages.pot and merges them into each
# language's .po: new messages arrive untranslated (shown in English until translated). Run from the repository root.
set -e
.venv/bin/pybabel extract -F serving/locales/babel.cfg -k t -k _ --no-location --omit-header \
  -o serving/locales/messages.pot .
for po in serving/locales/*.po; do
  lang=$(basename "$po" .po)
  .venv/bin/pybabel update -i serving/locales/messages.pot -o "$po" -l "$lang" --no-fuzzy-matching
done

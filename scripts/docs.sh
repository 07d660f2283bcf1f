#!/usr/bin/env bash
# The documentation site, built into docs/_build/html with warnings as errors, from the notebooks the test run
# executed (notebooks/executed/) and the browser tests' widget screenshots: nothing is executed here. Run the tests
# first (bash scripts/test.sh, or just tests/notebooks and tests/browser); the build fails with one line naming
# what is missing or stale, and fails too when a built page would not show its widgets, tables or figures.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
py=.venv/bin/python
$py docs/_ext/flare_docs.py --before
rm -rf docs/_build/html docs/reference/generated
$py -m sphinx -W --keep-going -q -b html docs docs/_build/html
$py docs/_ext/flare_docs.py --after docs/_build/html
pages=$(find docs/_build/html -name '*.html' -not -path '*/_static/*' -not -name 'genindex.html' -not -name 'search.html' | wc -l)
echo "documentation: $pages pages in docs/_build/html (open docs/_build/html/index.html)"

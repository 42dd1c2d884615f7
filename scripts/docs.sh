#!/bin/sh
# Build the docs site offline into build/docs/html: antsibull-docs renders the installed collection (the modules'
# and the role's own documentation, and the guides listed in docs/docsite/extra-docs.yml) as RST, Sphinx builds
# the HTML with every warning an error (a broken reference fails the build). Tools in .venv-docs.
set -eu
cd "$(dirname "$0")/.."
VENV=.venv-docs
if [ ! -x "$VENV/bin/sphinx-build" ] || ! cmp -s requirements-docs.txt "$VENV/.requirements-docs.txt"; then
    echo "docs: installing the docs tools into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-docs.txt >&2
    cp requirements-docs.txt "$VENV/.requirements-docs.txt"
fi
scripts/install-collection.sh
OUT=$(pwd)/build/docs
rm -rf "$OUT"
mkdir -p "$OUT/rst"
chmod og-w "$OUT/rst"  # antsibull-docs wants the directory writable by itself only
PATH=$(pwd)/$VENV/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$(pwd)/build/collections "$VENV/bin/antsibull-docs" \
    --config-file docs/site/antsibull-docs.cfg collection --use-current --fail-on-error \
    --dest-dir "$OUT/rst" virtops.storage
cp docs/site/index.rst docs/site/ansible_references.rst "$OUT/rst/"
"$VENV/bin/sphinx-build" -q -W --keep-going -b html -c docs/site "$OUT/rst" "$OUT/html"
echo "docs: built $OUT/html/index.html" >&2

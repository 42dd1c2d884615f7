#!/bin/sh
# ansible-test sanity on this checkout. ansible-test needs the collection at
# .../ansible_collections/virtops/storage and resolves symlinks, so it runs on a
# copy of the files git tracks (or would track: new files not ignored). The copy
# lives outside the checkout: inside it, ansible-test would ask git, which ignores build/.
set -eu
cd "$(dirname "$0")/.."
VENV=$(pwd)/${VENV:-.venv}
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/virtops-sanity.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
DEST=$ROOT/ansible_collections/virtops/storage
mkdir -p "$DEST"
git ls-files -z --cached --others --exclude-standard |
    xargs -0 tar cf - --ignore-failed-read 2>/dev/null | tar xf - -C "$DEST"
cd "$DEST"
PATH="$VENV/bin:$PATH" "$VENV/bin/ansible-test" sanity --venv --python "${SANITY_PYTHON:-3.11}" --color no "$@"

#!/bin/sh
# ansible-test sanity on this checkout (it needs ansible_collections/virtops/storage).
set -eu
cd "$(dirname "$0")/.."
VENV=$(pwd)/${VENV:-.venv}
cd build/dev/ansible_collections/virtops/storage
PATH="$VENV/bin:$PATH" "$VENV/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"

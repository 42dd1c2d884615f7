#!/bin/sh
# Install this checkout as the virtops.storage collection into build/collections.
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
rm -rf build/collections/ansible_collections/virtops/storage
"$VENV/bin/ansible-galaxy" collection install --force -p build/collections . >/dev/null
echo "install-collection: virtops.storage installed in build/collections" >&2
# A development view of the checkout for unit tests and ansible-test, which need the
# collection under ansible_collections/virtops/storage.
mkdir -p build/dev/ansible_collections/virtops
ln -sfn ../../../.. build/dev/ansible_collections/virtops/storage

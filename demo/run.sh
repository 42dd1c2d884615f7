#!/bin/sh
# Run the demo playbook twice: the first run converges, the second must change nothing.
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# DEMO_COLLECTIONS: where the collection is installed (default: build/collections, which `make install` fills)
export ANSIBLE_COLLECTIONS_PATH="${DEMO_COLLECTIONS:-$(pwd)/build/collections}"
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_REMOTE_TEMP="$(pwd)/build/ansible-tmp"
echo "=== demo: first run (converges)"
"$VENV/bin/ansible-playbook" -i localhost, demo/playbook.yml
echo "=== demo: second run (must report changed=0)"
out=$("$VENV/bin/ansible-playbook" -i localhost, demo/playbook.yml)
echo "$out"
echo "$out" | grep -Eq 'localhost +: ok=[0-9]+ +changed=0 ' || { echo "demo: second run changed something" >&2; exit 1; }
echo "=== demo: done (second run reported no change)"

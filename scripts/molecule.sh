#!/bin/sh
# The molecule scenario of the hypervisor_storage role (extensions/molecule/hypervisor_storage) on the local
# libvirtd, with the collection as installed in build/collections; then checks that its LUKS passphrase shows
# nowhere in the whole output (build/molecule.log).
set -eu
cd "$(dirname "$0")/.."
VENV=$(pwd)/${VENV:-.venv}
SCENARIO=extensions/molecule/hypervisor_storage
LOG=build/molecule.log
export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$(pwd)/build/collections"
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
mkdir -p build
status=0
molecule test -s hypervisor_storage >"$LOG" 2>&1 || status=$?
cat "$LOG"
[ "$status" -eq 0 ] || { echo "molecule: scenario failed (exit $status), log in $LOG" >&2; exit "$status"; }
passphrase=$(sed -n 's/^vmolhs_luks_passphrase: *//p' "$SCENARIO/vars/declaration.yml")
[ -n "$passphrase" ] || { echo "molecule: no passphrase in $SCENARIO/vars/declaration.yml" >&2; exit 1; }
if grep -qF "$passphrase" "$LOG"; then
    echo "molecule: the scenario's LUKS passphrase shows in its output ($LOG)" >&2
    exit 1
fi
echo "molecule: scenario passed; its passphrase shows nowhere in $LOG" >&2

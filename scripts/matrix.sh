#!/bin/sh
# The ansible-core versions users run besides the main virtualenv's 2.19 (Python 3.11, whose unit tests, sanity
# and demo `make test` runs anyway): 2.20 on Python 3.12 and 2.21 on Python 3.13, each with its unit tests,
# ansible-test sanity and the demo twice (converges, then changes nothing); then ansible-test's compile test,
# under the oldest ansible-core, for every target-side Python the README states ("Python on the hypervisor").
# One virtualenv per version in .venv-core<version>; the Pythons come from pyenv (this machine kind has them)
# or the PATH. Usage: scripts/matrix.sh [setup|unit|sanity|demo|compile]... (default: unit sanity demo compile)
set -eu
cd "$(dirname "$0")/.."
MATRIX="2.20:3.12 2.21:3.13"
TARGET_PYTHONS="3.9 3.10 3.11 3.12 3.13"
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}

log() { echo "matrix: $*" >&2; }

# python<version> on the PATH, else the newest pyenv build of it
python_bin() {
    found=$(ls -d "$PYENV_ROOT"/versions/"$1".*/bin/python"$1" 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$found" ] || found=$(command -v "python$1" || true)
    [ -n "$found" ] || { log "no Python $1 (pyenv or PATH)"; exit 1; }
    echo "$found"
}

# every target Python's directory on the PATH, for ansible-test
for version in $TARGET_PYTHONS; do
    PATH=$(dirname "$(python_bin "$version")"):$PATH
done
export PATH

venv_for() { # venv_for CORE PYTHON: the virtualenv of ansible-core CORE, made once
    core=$1; venv=.venv-core$core
    if [ ! -x "$venv/bin/ansible-test" ] || ! cmp -s requirements-matrix.txt "$venv/.requirements-matrix.txt"; then
        log "ansible-core $core on Python $2: creating $venv"
        rm -rf "$venv"
        "$(python_bin "$2")" -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$core.*" -r requirements-matrix.txt >&2
        cp requirements-matrix.txt "$venv/.requirements-matrix.txt"
    fi
    echo "$venv"
}

steps=${*:-unit sanity demo compile}
results=""
for pair in $MATRIX; do
    [ "$steps" = compile ] && break
    core=${pair%%:*}; python=${pair#*:}
    venv=$(venv_for "$core" "$python")
    version=$("$venv/bin/python" -c 'import ansible; print(ansible.__version__)')
    for step in $steps; do
        log "ansible-core $version (Python $python): $step"
        case $step in
        unit)    PYTHONPATH=$(pwd)/build/dev "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit >&2 ;;
        sanity)  VENV=$venv SANITY_PYTHON=$python scripts/sanity.sh >&2 ;;
        compile) continue ;;  # once, below
        demo)    VENV=$venv demo/run.sh >&2 ;;
        setup)   ;;  # the virtualenv only
        *)       log "unknown step $step"; exit 2 ;;
        esac
        results="$results
ansible-core $version, Python $python: $step passed"
    done
done
case " $steps " in *" compile "*)
    version=$(.venv/bin/python -c 'import ansible; print(ansible.__version__)')
    for target in $TARGET_PYTHONS; do
        log "ansible-core $version: compile on Python $target"
        VENV=.venv SANITY_PYTHON=$target scripts/sanity.sh --test compile >&2
        results="$results
ansible-core $version: compile on Python $target passed"
    done ;;
esac
echo "matrix: every step passed:$results"

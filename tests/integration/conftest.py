"""Integration harness: the real modules against the real libvirtd on qemu:///system.

Modules run as Ansible runs them on a host: the installed collection's module
file executed with its arguments as JSON (check and diff mode flags included),
so every test exercises argument validation, no_log handling and exit_json.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

URI = "qemu:///system"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.environ.get("VIRTOPS_COLLECTIONS", os.path.join(REPO, "build", "collections"))
INSTALLED = os.path.join(COLLECTIONS, "ansible_collections", "virtops", "storage")


# the longest files first: `make integration` runs two files at a time, and a long file started last would run
# alone at the end
LONGEST_FIRST = ("test_gluster.py", "test_trust_parallel.py", "test_rbd.py", "test_secret_playbooks.py",
                 "test_disk_attach_behaviour.py", "test_disk_attach_sources.py", "test_storage_host.py")


def pytest_collection_modifyitems(session, config, items):  # pylint: disable=unused-argument
    rank = dict((name, position) for position, name in enumerate(LONGEST_FIRST))
    items.sort(key=lambda item: rank.get(os.path.basename(str(item.fspath)), len(LONGEST_FIRST)))


def pytest_configure(config):
    config.addinivalue_line("markers", "exclusive: stops or restarts what every test uses (the libvirt daemon); "
                                       "run alone, after the others (make integration)")


def run_module(name, args, check=False, diff=True):
    """Run module ``name`` with ``args``; return its JSON result (``failed`` set on failure)."""
    path = os.path.join(INSTALLED, "plugins", "modules", name + ".py")
    assert os.path.exists(path), "collection not installed at %s (run make install)" % INSTALLED
    payload = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
    try:
        env = dict(os.environ, PYTHONPATH=COLLECTIONS)
        proc = subprocess.run([sys.executable, path, handle.name], capture_output=True, text=True,
                              env=env, timeout=300, check=False)
    finally:
        os.unlink(handle.name)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module %s printed no JSON (rc %s): %s %s" % (
            name, proc.returncode, proc.stdout, proc.stderr))
    result["_stderr"] = proc.stderr
    return result


def run_ok(module, args, check=False, changed=None):
    """Run a module that must succeed (and change or not, when ``changed`` is given)."""
    result = run_module(module, args, check=check)
    assert not result.get("failed"), result
    if changed is not None:
        assert result["changed"] is changed, result
    return result


def warnings_of(result):
    """The warning texts of a module result (plain strings, or ansible-core 2.19's WarningSummary dicts)."""
    texts = []
    for warning in result.get("warnings") or []:
        if isinstance(warning, dict):
            warning = (warning.get("event") or {}).get("msg") or warning.get("msg") or str(warning)
        texts.append(warning)
    return texts


def assert_failed(result, *words):
    """The module failed and its message names every one of ``words``."""
    assert result.get("failed") is True, result
    for word in words:
        assert word in result["msg"], (word, result["msg"])


def assert_refused(result, param, fragment=None, ours=True):
    """The module failed, its message names ``param`` and no traceback leaked out.

    ``ours``: the failure is the collection's own error (not AnsibleModule's
    argument checking), which also returns the parameter as ``param``.
    """
    assert result.get("failed") is True, result
    msg = result.get("msg", "")
    assert param in msg, "%r not named in %r" % (param, msg)
    if fragment is not None:
        assert fragment in msg, "%r not in %r" % (fragment, msg)
    for text in (msg, result.get("exception") or "", result["_stderr"]):
        assert "Traceback" not in text, text
    if ours:
        assert result.get("param") == param, result
    assert "changed" not in result or result["changed"] is False, result


def substitute(value, tokens):
    """``value`` (str, dict or list, nested) with every token ('@DIR', ...) replaced by its text, longest first."""
    if isinstance(value, str):
        for token in sorted(tokens, key=len, reverse=True):  # @DIRPATH before @DIR
            value = value.replace(token, tokens[token])
        return value
    if isinstance(value, dict):
        return dict((k, substitute(v, tokens)) for k, v in value.items())
    if isinstance(value, list):
        return [substitute(v, tokens) for v in value]
    return value


# the element of <usage> holding a secret's usage id, per usage type
_USAGE_ELEMENTS = {"volume": "volume", "iscsi": "target", "ceph": "name", "tls": "name", "vtpm": "name"}


def define_secret(usage_type, usage_id, value):
    """Define a private secret with virsh (not with the module under test) holding ``value``; return its uuid.

    The value goes through a file (``secret-set-value --file --plain``), never a command line.
    """
    secret_uuid = str(uuid.uuid4())
    element = _USAGE_ELEMENTS[usage_type]
    xml = ("<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='%s'><%s>%s</%s></usage></secret>"
           % (secret_uuid, usage_type, element, usage_id, element))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "secret.xml")
        with open(path, "w") as handle:
            handle.write(xml)
        virsh("secret-define", path)
        with open(os.path.join(tmp, "value"), "w") as handle:
            handle.write(value)
        virsh("secret-set-value", secret_uuid, "--file", os.path.join(tmp, "value"), "--plain")
    return secret_uuid


def virsh(*args, check=True):
    """Run virsh on qemu:///system and return its stdout."""
    proc = subprocess.run(["virsh", "-q", "-c", URI] + list(args), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("virsh %s failed: %s" % (" ".join(args), proc.stderr))
    return proc.stdout


def pool_exists(name):
    """True when libvirt knows pool ``name``."""
    return subprocess.run(["virsh", "-q", "-c", URI, "pool-info", name], capture_output=True,
                          check=False).returncode == 0


def pool_info(name):
    """virsh pool-info of ``name`` as a dict ('State', 'Autostart', 'Persistent', ...)."""
    lines = virsh("pool-info", name).splitlines()
    return dict((k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in lines if ":" in line))


def remove_pool(name):
    """Stop and undefine pool ``name`` if it exists (test cleanup)."""
    virsh("pool-destroy", name, check=False)
    virsh("pool-undefine", name, check=False)


def assert_diff_matches_changed(result):
    """``changed`` and the diff come from one comparison: the diff is empty exactly when nothing changed."""
    diff = result.get("diff")
    assert diff is not None, "no diff in %s" % result
    unchanged = diff["before"] == diff["after"]
    assert unchanged is not result["changed"], "changed is %s but the diff is %s" % (result["changed"], diff)


def six_steps(module, args, verify_before, verify_after):
    """Check mode, real, check again, real again; verify the host after each step.

    Returns the result of the first real run.
    """
    def step(check, changed, verify):
        result = run_module(module, args, check=check)
        assert not result.get("failed"), result
        assert result["changed"] is changed, result
        assert_diff_matches_changed(result)
        verify()
        return result

    first_check = step(True, True, verify_before)
    real = step(False, True, verify_after)
    assert real["actions"] == first_check["actions"], (real["actions"], first_check["actions"])
    step(True, False, verify_after)
    assert step(False, False, verify_after)["actions"] == []
    return real


@pytest.fixture
def prefix():
    """A random name prefix: the daemon may be shared with other test runs."""
    return "vt-%s-" % uuid.uuid4().hex[:8]


@pytest.fixture
def pools(prefix):
    """Names of pools a test makes; removed afterwards whatever happened."""
    made = []
    yield made
    for name in made:
        remove_pool(name)


@pytest.fixture
def imported(pools):  # pylint: disable=redefined-outer-name,unused-argument  # pools outlive this fixture
    """(pool, volume) pairs a test imports into: the module's import records of them are removed afterwards."""
    from ansible_collections.virtops.storage.plugins.module_utils.image_import import ImportRecords, import_key
    volumes = []
    yield volumes
    for pool, name in volumes:
        pool_uuid = virsh("pool-uuid", pool, check=False).strip()
        if pool_uuid:
            ImportRecords().remove(import_key(pool_uuid, name))


@pytest.fixture
def workdir():
    """A directory QEMU (libvirt-qemu) can traverse, removed afterwards."""
    path = tempfile.mkdtemp(prefix="virtops-it-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)

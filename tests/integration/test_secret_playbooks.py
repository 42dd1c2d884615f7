"""Secrets through real playbooks: iSCSI CHAP end to end, a LUKS volume, and no value leaking anywhere.

The playbooks under ``playbooks/`` run with the venv's ansible-playbook on
localhost (local connection) against qemu:///system, with the installed
collection. Per-run values (names with the test's random prefix, paths, the
iSCSI facts, the secret values) reach them in an extra-vars file (``-e
@vars.json``, mode 0600), never on a command line that ``ps`` shows.
"""

import base64
import json
import os
import time
import uuid

import pytest

from .backends import iscsi  # noqa: F401  pylint: disable=unused-import
from .conftest import INSTALLED, URI, pool_info, remove_pool, run_module, virsh
from .playbook_runner import ansible  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import qemu_img_info

CENSORED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
LIBVIRT_LOGS = "/var/log/libvirt"
# where the modules keep the fingerprints of the values they set (root's, then a user's state directory)
RECORD_DIRS = ("/var/lib/virtops-storage/secrets",
               os.path.join(os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"),
                            "virtops-storage", "secrets"))


# ---------------------------------------------------------------- host state

def secrets_named(prefix):
    """UUIDs of the libvirt secrets whose usage id contains ``prefix``."""
    found = []
    for line in virsh("secret-list").splitlines():
        words = line.split()
        if len(words) >= 3 and prefix in words[2]:
            found.append(words[0])
    return found


def remove_secrets(prefix):
    """Remove the secrets of a test: by the module (which also forgets its fingerprint record), else virsh."""
    for secret_uuid in secrets_named(prefix):
        try:
            run_module("storage_secret", dict(uuid=secret_uuid, state="absent", allow_in_use=True))
        finally:
            virsh("secret-undefine", secret_uuid, check=False)


def active_pools():
    """Names of the active pools (virsh pool-list lists only those)."""
    return virsh("pool-list", "--name").split()


def iscsi_vars(facts, usage, password, pool):
    """The extra vars of playbooks/iscsi_chap.yml (and the iSCSI part of secret_leak.yml)."""
    return dict(libvirt_uri=URI, chap_usage=usage, chap_password=password, pool_name=pool,
                iscsi_pool_name=pool, iscsi_host=facts["ISCSI_HOST"], iscsi_port=facts["ISCSI_PORT"],
                iscsi_target_iqn=facts["ISCSI_TARGET_IQN"], iscsi_initiator_iqn=facts["ISCSI_INITIATOR_IQN"],
                chap_user=facts["ISCSI_CHAP_USER"], lun_name="unit:0:0:1")


# ---------------------------------------------------------------- 1. iSCSI CHAP

def test_iscsi_chap_playbook(iscsi, prefix, pools, ansible):
    """CHAP secret, iscsi-direct pool and LUN disk XML from a playbook; converged on the second run; a wrong
    password fails on the pool task and leaves no active pool."""
    try:
        usage, name = prefix + "chap", prefix + "iscsi"
        pools.append(name)
        good = ansible.write_vars("good.json", iscsi_vars(iscsi, usage, iscsi["ISCSI_CHAP_PASSWORD"], name))
        first = ansible.run("iscsi_chap.yml", good, "--diff")
        first.assert_ok(changed=2)  # the secret and the pool; the playbook's assert checked the disk XML
        assert pool_info(name)["State"] == "running"
        assert name in active_pools()
        (secret_uuid,) = secrets_named(usage)
        assert "<target>%s</target>" % usage in virsh("secret-dumpxml", secret_uuid)
        ansible.run("iscsi_chap.yml", good, "--diff").assert_ok(changed=0)
        assert pool_info(name)["State"] == "running"

        bad_usage, bad_name = prefix + "badchap", prefix + "badiscsi"
        pools.append(bad_name)
        wrong = "wrong-%s" % uuid.uuid4().hex
        bad = ansible.write_vars("bad.json", iscsi_vars(iscsi, bad_usage, wrong, bad_name))
        failed = ansible.run("iscsi_chap.yml", bad, "--diff")
        assert failed.rc != 0 and failed.recap["failed"] == 1 and failed.recap["ok"] == 1, str(failed)
        task, line = failed.failed_task()
        assert task == "An iscsi-direct pool logging in with CHAP", str(failed)
        assert "Authentication failure" in line, line  # libvirt's iscsi-direct login error
        assert "starting pool %s failed" % bad_name in line, line
        assert bad_name not in active_pools()
        assert secrets_named(bad_usage), "the secret task ran before the pool task"
        for run in (first, failed):
            assert wrong not in run.stdout + run.stderr and iscsi["ISCSI_CHAP_PASSWORD"] not in run.stdout
    finally:
        for name in list(pools):
            remove_pool(name)
        remove_secrets(prefix)


# ---------------------------------------------------------------- 2. LUKS volume

@pytest.mark.parametrize("volume_format", ["qcow2", "raw"])
def test_luks_volume_playbook(volume_format, workdir, prefix, pools, ansible):
    """A volume secret, then a LUKS volume in a dir pool encrypted with it, from a playbook; converged on the
    second run; qemu-img sees a LUKS-encrypted image."""
    try:
        name = prefix + "pool"
        pools.append(name)
        pool_path = os.path.join(workdir, name)
        volume_name = prefix + "secret." + ("qcow2" if volume_format == "qcow2" else "img")
        path = os.path.join(pool_path, volume_name)
        passphrase = "luks-%s" % uuid.uuid4().hex
        variables = ansible.write_vars("vars.json", dict(
            libvirt_uri=URI, pool_name=name, pool_path=pool_path, volume_name=volume_name, volume_path=path,
            volume_format=volume_format, passphrase=passphrase))
        first = ansible.run("luks_volume.yml", variables, "--diff")
        first.assert_ok(changed=3)  # pool, secret, volume

        image = qemu_img_info(path)
        assert image["encrypted"] is True and image["virtual-size"] == 64 * 1024 * 1024, image
        if volume_format == "qcow2":
            assert image["format"] == "qcow2", image
            assert image["format-specific"]["data"]["encrypt"]["format"] == "luks", image
        else:
            assert image["format"] == "luks", image
        (secret_uuid,) = secrets_named(path)
        assert "<volume>%s</volume>" % path in virsh("secret-dumpxml", secret_uuid)
        volume_xml = virsh("vol-dumpxml", "--pool", name, volume_name)
        assert "<secret type='passphrase' uuid='%s'/>" % secret_uuid in volume_xml, volume_xml

        second = ansible.run("luks_volume.yml", variables, "--diff")
        second.assert_ok(changed=0)
        assert qemu_img_info(path)["encrypted"] is True
        for run in (first, second):
            assert passphrase not in run.stdout + run.stderr
    finally:
        for name in list(pools):
            remove_pool(name)
        remove_secrets(prefix)


# ---------------------------------------------------------------- 3. no value leaks

@pytest.fixture
def random_chap(monkeypatch):
    """A random CHAP password for the ``iscsi`` fixture (which passes its environment to iscsi-up).

    Request it before ``iscsi``: its fixture then starts tgtd with this password.
    """
    password = "leakchap%s" % uuid.uuid4().hex[:16]
    monkeypatch.setenv("ISCSI_CHAP_PASSWORD", password)
    return password


def forms(value):
    """The spellings of a value (bytes) to search for: itself, base64, hex in both cases."""
    hexed = value.hex()
    return {value, base64.b64encode(value), hexed.encode("ascii"), hexed.upper().encode("ascii")}


def log_sizes():
    """Sizes of libvirt's daemon and QEMU logs now (to read only what a run appends)."""
    sizes = {}
    for directory in (LIBVIRT_LOGS, os.path.join(LIBVIRT_LOGS, "qemu")):
        for entry in os.listdir(directory):
            path = os.path.join(directory, entry)
            if entry.endswith(".log") and os.path.isfile(path):
                sizes[path] = os.path.getsize(path)
    return sizes


def appended(before):
    """{path: the bytes appended since ``before``} for libvirt's logs, new logs included."""
    news = {}
    for path in log_sizes():
        with open(path, "rb") as handle:
            handle.seek(before.get(path, 0))
            news[path] = handle.read()
    return news


def files_under(*directories, since=None):
    """{path: bytes} of every file under ``directories`` (modified at or after ``since`` when given)."""
    found = {}
    for directory in directories:
        for root, dummy, names in os.walk(directory):
            for entry in names:
                path = os.path.join(root, entry)
                if since is None or os.path.getmtime(path) >= since:
                    with open(path, "rb") as handle:
                        found[path] = handle.read()
    return found


def test_no_value_leaks_anywhere(random_chap, iscsi, prefix, pools, workdir, ansible):
    """Every secret-bearing task kind at -vvvv, in check and diff mode, then for real twice: no value, in any
    spelling, in the output, the log file, the registered results, the temp dirs or libvirt's logs."""
    assert iscsi["ISCSI_CHAP_PASSWORD"] == random_chap
    tag = uuid.uuid4().hex
    binary = b"\xff\xfe\x00" + os.urandom(45)  # not UTF-8
    binary_b64 = base64.b64encode(binary).decode("ascii")
    both_b64_value = ("leak-bothb64-%s" % tag).encode("ascii")
    dir_pool_path = os.path.join(workdir, prefix + "leakpool")
    luks_volume_name = prefix + "leak.img"
    text = dict(text_value="leak-text-%s" % tag, text_value_new="leak-new-%s" % tag,
                public_value_a="leak-pub-a-%s" % tag, public_value_b="leak-pub-b-%s" % tag,
                demote_value_a="leak-demote-a-%s" % tag, demote_value_b="leak-demote-b-%s" % tag,
                chap_password=random_chap, luks_passphrase="leak-luks-%s" % tag,
                invalid_b64="leak-invalid-%s!" % tag, both_value="leak-both-%s" % tag,
                conflict_value="leak-conflict-%s" % tag)
    variables = dict(
        iscsi_vars(iscsi, prefix + "chap", random_chap, prefix + "iscsi"),
        text_usage=prefix + "text", binary_usage=prefix + "binary", public_usage=prefix + "public",
        demote_usage=prefix + "demote", failing_usage=prefix + "failing",
        binary_value_b64_wrapped="\n".join(binary_b64[i:i + 24] for i in range(0, len(binary_b64), 24)),
        both_value_b64=base64.b64encode(both_b64_value).decode("ascii"),
        conflict_uuid=str(uuid.uuid4()), dir_pool_name=prefix + "leakdir", dir_pool_path=dir_pool_path,
        luks_volume_name=luks_volume_name, luks_volume_path=os.path.join(dir_pool_path, luks_volume_name),
        **text)
    values = dict((key, value.encode("utf-8")) for key, value in text.items())
    values.update(binary=binary, both_value_b64=both_b64_value)
    needles = {}
    for key, value in values.items():
        for form in forms(value):
            needles[form] = key
    for piece in variables["binary_value_b64_wrapped"].split("\n")[:-1]:  # a line of the wrapped base64
        needles[piece.encode("ascii")] = "binary (a line of value_b64)"
    pools.extend([variables["iscsi_pool_name"], variables["dir_pool_name"]])

    searched = {}
    started = time.time() - 1
    sizes = log_sizes()
    try:
        runs = []
        for label, options in (("check run", ("--check", "--diff")), ("first real run", ("--diff",)),
                               ("second real run", ("--diff",))):
            results_path = os.path.join(ansible.root, "results-%d.json" % len(runs))
            vars_file = ansible.write_vars("vars-%d.json" % len(runs), dict(variables, results_path=results_path))
            run = ansible.run("secret_leak.yml", vars_file, "-vvvv", *options)
            run.assert_ok()
            runs.append((label, run, results_path))
            searched["%s stdout" % label] = run.stdout.encode("utf-8")
            searched["%s stderr" % label] = run.stderr.encode("utf-8")
            with open(results_path, "rb") as handle:
                searched["%s registered results (%s)" % (label, results_path)] = handle.read()
        with open(ansible.log_path, "rb") as handle:
            searched["ANSIBLE_LOG_PATH %s" % ansible.log_path] = handle.read()
        searched.update(files_under(ansible.remote_tmp, ansible.local_tmp))
        searched.update(files_under(*[d for d in RECORD_DIRS if os.path.isdir(d)], since=started))
        searched.update(("new in %s" % path, data) for path, data in appended(sizes).items())

        # the real runs really made everything
        assert pool_info(variables["iscsi_pool_name"])["State"] == "running"
        assert pool_info(variables["dir_pool_name"])["State"] == "running"
        assert qemu_img_info(variables["luks_volume_path"])["format"] == "luks"
        assert len(secrets_named(prefix)) == 4  # text, demote, chap, luks (binary and public removed)

        # what was searched is the real thing, not empty files
        for label, run, results_path in runs:
            assert run.recap["ignored"] == (2 if label == "check run" else 3), str(run)
            assert "Using module file %s" % os.path.join(INSTALLED, "plugins", "modules", "storage_secret.py") \
                in run.stdout, label
            for word in (CENSORED, "AnsiballZ_storage_secret.py", "AnsiballZ_storage_secret_info.py",
                         "AnsiballZ_storage_pool.py", "is not valid base64", "mutually exclusive",
                         "(not shown", "TASK [Re-create it non-private, with a new value]"):
                assert word in run.stdout, (label, word)
            if label != "check run":
                for word in ("AnsiballZ_storage_volume.py", "AnsiballZ_storage_volume_info.py",
                             "belongs to secret", "re-create secret vtpm"):
                    assert word in run.stdout, (label, word)
            with open(results_path) as handle:
                registered = json.load(handle)
            assert len([key for key in registered if key.startswith("r_")]) == 21, sorted(registered)
            assert registered["r_public_b"]["diff"]["after"]["value"] == "(not shown, changed)", registered
            assert registered["r_fail_invalid_b64"]["failed"] is True, registered["r_fail_invalid_b64"]
        log = searched["ANSIBLE_LOG_PATH %s" % ansible.log_path].decode("utf-8", "replace")
        assert log.count("PLAY RECAP") == 3 and CENSORED in log and "AnsiballZ_storage_pool.py" in log
        # the daemon logged this run's errors (storage_volume asks for the value of the private LUKS secret)
        daemon_log = searched["new in %s" % os.path.join(LIBVIRT_LOGS, "libvirtd.log")]
        assert b"secret is private" in daemon_log, daemon_log[-2000:]
        # the fingerprints kept of the values set (text, demote, chap and luks secrets remain) were searched
        if os.geteuid() == 0:
            assert len([path for path in searched if path.startswith(RECORD_DIRS[0])]) >= 4, sorted(searched)

        leaks = []
        for where, data in sorted(searched.items()):
            for needle, key in needles.items():
                if needle in data:
                    leaks.append("%s: %s (%r)" % (where, key, needle[:40]))
        assert not leaks, "secret values found:\n" + "\n".join(leaks)
    finally:
        if os.path.exists(variables["luks_volume_path"]):
            virsh("vol-delete", "--pool", variables["dir_pool_name"], luks_volume_name, check=False)
        for name in list(pools):
            remove_pool(name)
        remove_secrets(prefix)

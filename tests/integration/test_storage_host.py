"""storage_host on the real libvirtd: a host's declaration converged in one task.

The declaration: a LUKS passphrase secret, a dir pool holding a golden image, a linked clone over it, a LUKS
volume and a raw volume, and a second dir pool; defaults for pools and volumes. Proven: the six steps with the
host checked each time (pools, volumes by qemu-img, the secret), the same end state as the per-object modules,
a bad item refused before anything changes, a failure part-way reported per object and converged by a rerun,
objects not declared left alone, guest disks in the declaration, and the secret's value in no output.
"""

import json
import os
import re

from .conftest import run_module, run_ok, virsh, warnings_of, workdir  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import define_guest, qemu_img_info, sha256_file, undefine_guest, vol_names

PASSPHRASE = "storage-host-passphrase-7f3a"
MIB = 1024 * 1024
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def declaration(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    """The host's declaration: (module arguments, {pool: directory})."""
    dirs = {prefix + "a": os.path.join(workdir, "a"), prefix + "b": os.path.join(workdir, "b")}
    secure = os.path.join(dirs[prefix + "a"], "secure.qcow2")
    return dict(
        pool_defaults=dict(state="active", autostart=True),
        volume_defaults=dict(format="qcow2"),
        secrets=[dict(usage_type="volume", usage_id=secure, value=PASSPHRASE)],
        pools=[
            dict(name=prefix + "a", type="dir", target=dict(path=dirs[prefix + "a"]), volumes=[
                dict(name="golden.qcow2", capacity="32M"),
                dict(name="clone.qcow2", capacity="32M", backing_store=dict(name="golden.qcow2", format="qcow2")),
                dict(name="secure.qcow2", capacity="16M", encryption=dict(secret=dict(usage=secure))),
                dict(name="raw.img", capacity="8M", format="raw"),
            ]),
            dict(name=prefix + "b", type="dir", target=dict(path=dirs[prefix + "b"]), autostart=False,
                 volumes=[dict(name="b1.qcow2", capacity="8M")]),
        ]), dirs


def pool_rows(prefix):
    """{pool: (state, autostart)} of this test's pools, as virsh lists them."""
    rows = {}
    for line in virsh("pool-list", "--all").splitlines():  # virsh -q: no header
        words = line.split()
        if words and words[0].startswith(prefix):
            rows[words[0]] = (words[1], words[2])
    return rows


def secret_usages(workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    """The secrets of this test: their usage is a path under its work directory."""
    return [line for line in virsh("secret-list").splitlines() if workdir in line]


def nothing_made(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    assert pool_rows(prefix) == {} and secret_usages(workdir) == []


def host_converged(prefix, dirs):
    a, b = prefix + "a", prefix + "b"
    assert pool_rows(prefix) == {a: ("active", "yes"), b: ("active", "no")}
    assert sorted(vol_names(a)) == ["clone.qcow2", "golden.qcow2", "raw.img", "secure.qcow2"]
    assert vol_names(b) == ["b1.qcow2"]
    info = dict((name, qemu_img_info(os.path.join(dirs[a], name))) for name in vol_names(a))
    assert (info["golden.qcow2"]["format"], info["golden.qcow2"]["virtual-size"]) == ("qcow2", 32 * MIB)
    assert info["clone.qcow2"]["full-backing-filename"] == os.path.join(dirs[a], "golden.qcow2")
    assert info["secure.qcow2"]["encrypted"] is True
    assert (info["raw.img"]["format"], info["raw.img"]["virtual-size"]) == ("raw", 8 * MIB)
    assert len(secret_usages(os.path.dirname(dirs[a]))) == 1


def run_host(args, check=False):
    """storage_host with ``args``; the result with its raw JSON text (to search for the secret's value)."""
    result = run_module("storage_host", args, check=check)
    assert PASSPHRASE not in json.dumps(result), "the passphrase leaked into the result"
    return result


def remove_all(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    for name in pool_rows(prefix):
        virsh("pool-destroy", name, check=False)
        virsh("pool-undefine", name, check=False)
    for line in secret_usages(workdir):
        virsh("secret-undefine", line.split()[0], check=False)


def test_a_declaration_converges_in_six_steps(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    args, dirs = declaration(prefix, workdir)
    try:
        steps = [(True, True, lambda: nothing_made(prefix, workdir)), (False, True, lambda: host_converged(prefix, dirs)),
                 (True, False, lambda: host_converged(prefix, dirs)), (False, False, lambda: host_converged(prefix, dirs))]
        results = []
        for check, changed, verify in steps:
            result = run_host(args, check=check)
            assert not result.get("failed"), result
            assert result["changed"] is changed, result
            assert bool(result["diff"]) is changed, result["diff"]  # one diff per changed object, none unchanged
            # the LUKS volume's secret is declared by usage, libvirt names it by uuid after a refresh: no drift
            assert warnings_of(result) == [], result
            verify()
            results.append(result)
        first_check, real = results[0], results[1]
        assert real["summary"]["secrets"]["changed"] == 1 and real["summary"]["pools"]["changed"] == 2
        assert real["summary"]["volumes"]["changed"] == 5
        assert [(c["kind"], c["id"]) for c in real["changes"]][:3] == [
            ("secret", "volume " + args["secrets"][0]["usage_id"]), ("pool", prefix + "a"), ("pool", prefix + "b")]
        assert len(real["diff"]) == len(real["changes"]) == 8
        assert all(d["before_header"] == "%s %s" % (c["kind"], c["id"]) for d, c in zip(real["diff"], real["changes"]))
        # check mode cannot plan inside pools that do not exist yet: their volumes are reported as to be converged
        assert [c["kind"] for c in first_check["changes"]].count("volume") == 5
        assert results[3]["summary"]["volumes"] == {"changed": 0, "unchanged": 5, "not_done": 0}
    finally:
        remove_all(prefix, workdir)


def normalized(facts, prefix, directory):
    """Facts of a pool or volume with this run's names and paths taken out, to compare two runs."""
    text = json.dumps(facts, sort_keys=True).replace(directory, "@DIR").replace(prefix, "@P")
    text = UUID.sub("@UUID", text)  # each side has its own secret
    facts = json.loads(text)
    for key in ("uuid", "key", "allocation", "physical", "xml", "available"):
        facts.pop(key, None)
    return facts


def host_facts(prefix, dirs, pool):
    pool_facts = run_ok("storage_pool_info", dict(name=prefix + pool))["pools"][0]
    volumes = run_ok("storage_volume_info", dict(pool=prefix + pool))["volumes"]
    directory = dirs[prefix + pool]
    return normalized(pool_facts, prefix, directory), [normalized(v, prefix, directory) for v in volumes]


def test_the_per_object_modules_make_the_same_host(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    batched, per_object = prefix + "m-", prefix + "o-"
    args_m, dirs_m = declaration(batched, os.path.join(workdir, "m"))
    args_o, dirs_o = declaration(per_object, os.path.join(workdir, "o"))
    try:
        assert run_host(args_m)["changed"] is True
        for secret in args_o["secrets"]:
            run_ok("storage_secret", secret)
        for pool in args_o["pools"]:
            pool = dict(args_o["pool_defaults"], **pool)
            volumes = pool.pop("volumes")
            run_ok("storage_pool", pool)
            for volume in volumes:
                run_ok("storage_volume", dict(args_o["volume_defaults"], pool=pool["name"], **volume))
        for pool in ("a", "b"):
            mine, theirs = host_facts(batched, dirs_m, pool), host_facts(per_object, dirs_o, pool)
            assert mine[0] == theirs[0], pool
            for volume, other in zip(mine[1], theirs[1]):
                assert volume == other, [(key, volume.get(key), other.get(key)) for key in sorted(volume)
                                         if volume.get(key) != other.get(key)]
        # and each side sees the other's host as converged
        assert run_host(args_m)["changed"] is False
    finally:
        remove_all(batched, workdir)
        remove_all(per_object, workdir)


def test_a_bad_item_fails_before_anything_changes(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    args, dummy = declaration(prefix, workdir)
    bad_capacity = json.loads(json.dumps(args))
    bad_capacity["pools"][1]["volumes"][0]["capacity"] = "lots"
    unknown_option = json.loads(json.dumps(args))
    unknown_option["pools"][1]["colour"] = "blue"
    list_for_a_string = json.loads(json.dumps(args))
    list_for_a_string["pools"][0]["volumes"][1]["name"] = ["a", "b"]
    twice = json.loads(json.dumps(args))
    twice["pools"][0]["volumes"].append(dict(name="raw.img", capacity="8M"))
    for bad, param, fragment in ((bad_capacity, "pools[1].volumes[0].capacity", "lots"),
                                 (unknown_option, "pools[1]", "colour"),
                                 (list_for_a_string, "pools[0].volumes[1].name", "name"),
                                 (twice, "pools[0].volumes[4]", "again")):
        for check in (True, False):
            result = run_host(bad, check=check)
            assert result.get("failed") is True and result.get("param") == param, result
            assert fragment in result["msg"], result["msg"]
            nothing_made(prefix, workdir)


def test_a_failure_part_way_says_what_was_done_and_a_rerun_converges(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    args, dirs = declaration(prefix, workdir)
    blocker = os.path.join(workdir, "not-a-dir")
    with open(blocker, "w") as handle:
        handle.write("a file where pool b's directory should go\n")
    broken = json.loads(json.dumps(args))
    broken["pools"][1]["target"]["path"] = os.path.join(blocker, "b")
    try:
        result = run_host(broken)
        assert result.get("failed") is True and result["param"].startswith("pools[1]"), result
        assert "pools[1] (pool %sb) failed" % prefix in result["msg"], result["msg"]
        assert "Before it: 2 object(s) converged, 2 of them changed" in result["msg"], result["msg"]
        assert result["summary"]["volumes"]["not_done"] == 5 and result["summary"]["pools"]["not_done"] == 1
        assert [c["kind"] for c in result["changes"]] == ["secret", "pool"]
        assert result["not_done"] == ["pool %sb" % prefix] + ["volume %s" % v for v in (
            prefix + "a/golden.qcow2", prefix + "a/clone.qcow2", prefix + "a/secure.qcow2", prefix + "a/raw.img",
            prefix + "b/b1.qcow2")], result["not_done"]
        assert pool_rows(prefix) == {prefix + "a": ("active", "yes")}  # pool b undone, its volumes never tried
        rerun = run_host(args)
        assert rerun.get("changed") is True, rerun
        host_converged(prefix, dirs)
    finally:
        remove_all(prefix, workdir)


def test_a_refusal_anywhere_fails_before_the_first_change(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    """The whole declaration is planned first: an object refused late in the order (data at stake) fails the task
    before the objects declared before it change, in check mode and for real; the refusal names its item."""
    args, dirs = declaration(prefix, workdir)
    try:
        run_host(args)
        golden = os.path.join(dirs[prefix + "a"], "golden.qcow2")
        checksums = dict((name, sha256_file(os.path.join(dirs[prefix + "a"], name))) for name in vol_names(prefix + "a"))
        shrink = json.loads(json.dumps(args))
        shrink["pools"][0]["volumes"].insert(0, dict(name="new.qcow2", capacity="4M"))
        shrink["pools"][1]["volumes"][0]["capacity"] = "4M"  # a smaller b1.qcow2: refused without allow_shrink
        base_of_a_clone = json.loads(json.dumps(args))
        base_of_a_clone["secrets"][0]["description"] = "a changed description, never applied"
        base_of_a_clone["pools"][0]["volumes"].insert(0, dict(name="new.qcow2", capacity="4M"))
        base_of_a_clone["pools"][0]["volumes"][1] = dict(name="golden.qcow2", state="absent")  # a clone's base
        for declared_args, where, fragment in ((shrink, "pools[1].volumes[0]", "allow_shrink"),
                                               (base_of_a_clone, "pools[0].volumes[1]", "allow_in_use")):
            for check in (True, False):
                result = run_host(declared_args, check=check)
                assert result.get("failed") is True and result["param"].startswith(where), result
                assert fragment in result["msg"] and "Nothing was changed" in result["msg"], result["msg"]
                assert result["changes"] == [] and result["not_done"][0].startswith("volume"), result
                assert sum(counts["not_done"] for counts in result["summary"].values()) == 9, result["summary"]
                assert "new.qcow2" not in vol_names(prefix + "a")
                assert qemu_img_info(os.path.join(dirs[prefix + "b"], "b1.qcow2"))["virtual-size"] == 8 * MIB
                assert os.path.exists(golden)
                assert all("never applied" not in virsh("secret-dumpxml", line.split()[0])
                           for line in secret_usages(workdir))
        assert checksums == dict((name, sha256_file(os.path.join(dirs[prefix + "a"], name)))
                                 for name in vol_names(prefix + "a"))
        assert run_host(args)["changed"] is False
    finally:
        remove_all(prefix, workdir)


def test_only_declared_objects_change_and_absent_removes(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    args, dirs = declaration(prefix, workdir)
    try:
        run_host(args)
        run_ok("storage_volume", dict(pool=prefix + "a", name="by-hand.qcow2", capacity="4M", format="qcow2"))
        smaller = json.loads(json.dumps(args))
        smaller["pools"][0]["volumes"] = [dict(name="raw.img", state="absent")]
        del smaller["pools"][1]
        result = run_host(smaller)
        assert [(c["kind"], c["id"]) for c in result["changes"]] == [("volume", prefix + "a/raw.img")], result
        assert sorted(vol_names(prefix + "a")) == ["by-hand.qcow2", "clone.qcow2", "golden.qcow2", "secure.qcow2"]
        assert prefix + "b" in pool_rows(prefix)
    finally:
        remove_all(prefix, workdir)


def test_guest_disks_in_the_declaration(prefix, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    args, dirs = declaration(prefix, workdir)
    guest = prefix + "guest"
    define_guest(guest, [])
    args["disks"] = [dict(domain=guest, volume=dict(pool=prefix + "a", name="clone.qcow2"), disk=dict(serial="c1"))]
    try:
        result = run_host(args)
        assert result["summary"]["disks"]["changed"] == 1, result
        assert os.path.join(dirs[prefix + "a"], "clone.qcow2") in virsh("dumpxml", "--inactive", guest)
        again = run_host(args)
        assert again["changed"] is False and again["summary"]["disks"]["unchanged"] == 1, again
    finally:
        undefine_guest(guest)
        remove_all(prefix, workdir)

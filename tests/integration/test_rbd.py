"""rbd pools end to end on a real single-node Ceph (tests/integration/backends/ceph-up) and the real libvirtd.

The chain a playbook of this collection declares: storage_secret (usage ceph, the cephx key as value_b64) ->
storage_pool (rbd, auth by the secret's usage, the cluster's monitors) -> storage_volume (create raw, grow,
clone, delete), each in the six steps with Ceph asked after each (``rbd info``), never libvirt alone. A volume
becomes a network disk with the monitors and the auth, hot-plugged into the running Linux test guest, which
writes; ``rbd export`` reads the guest's bytes back on the host. Ceph's refusals (a wrong key, no monitor, the
base of clones, snapshots) are clear errors that change nothing, and a rerun after the repair converges.
"""

import json
import os
import re
import sys
import uuid

import pytest

from .attach_helpers import SECTOR, marker
# pytest fixtures, used as test arguments
from .backends import ceph, ceph_admin, session_hypervisor, stop_pid, up_again  # noqa: F401  pylint: disable=unused-import
from .conftest import run_module, run_ok, six_steps, virsh, workdir  # noqa: F401  pylint: disable=unused-import
from .linux_guest import linux_guest  # noqa: F401  pylint: disable=unused-import
from .playbook_runner import ansible  # noqa: F401  pylint: disable=unused-import
from .test_disk_attach_sources import attach_then_detach, expect_disk
from .test_volume_lifecycle import secrets  # noqa: F401  pylint: disable=unused-import

MIB = 1024 * 1024


def secret_args(prefix, facts, key=None):
    """The Ceph secret of this test: the cephx key of the cluster's libvirt user, as Ceph prints it (base64)."""
    return dict(usage_type="ceph", usage_id="client.%s %s" % (facts["CEPH_CLIENT_NAME"], prefix),
                value_b64=key or facts["CEPH_CLIENT_KEY"], description="rbd test " + prefix)


# libvirt's librados waits 30 s for monitors that do not answer (client_mount_timeout, rados_mon_op_timeout):
# the tests of monitors down wait 5 s, set through the pool's Ceph client options (libvirt applies them last)
QUICK_TIMEOUTS = {"client_mount_timeout": "5", "rados_mon_op_timeout": "5"}


def pool_args(prefix, facts, name="rbd"):
    return dict(name=prefix + name, type="rbd", state="active", config_options=QUICK_TIMEOUTS, source=dict(
        name=facts["CEPH_POOL"], hosts=[dict(name="127.0.0.1", port=int(facts["CEPH_MON_PORT"]))],
        auth=dict(type="ceph", username=facts["CEPH_CLIENT_NAME"],
                  secret=dict(usage=secret_args(prefix, facts)["usage_id"]))))


def image_info(facts, image):
    """``rbd info`` of ``image`` as a dict, or None when Ceph has no such image."""
    out = ceph_admin(facts, "rbd", "info", "--format", "json", "%s/%s" % (facts["CEPH_POOL"], image), check=False)
    return json.loads(out) if out.strip() else None


def rbd_export_first_bytes(facts, image, workdir, count=32):  # noqa: F811  pylint: disable=redefined-outer-name
    """The first ``count`` bytes of ``image``, exported by Ceph's own ``rbd export`` (not through libvirt)."""
    path = os.path.join(workdir, "export-" + image)
    if os.path.exists(path):
        os.unlink(path)
    ceph_admin(facts, "rbd", "export", "%s/%s" % (facts["CEPH_POOL"], image), path)
    with open(path, "rb") as handle:
        return handle.read(count)


@pytest.fixture
def rbd_pool(ceph, prefix, secrets):  # noqa: F811  pylint: disable=redefined-outer-name
    """The secret and the rbd pool of this test, made with the modules; removed afterwards with their images."""
    made = run_ok("storage_secret", secret_args(prefix, ceph), changed=True)
    secrets.append(made["secret"]["uuid"])
    run_ok("storage_pool", pool_args(prefix, ceph), changed=True)
    images = []
    yield prefix + "rbd", images
    for image in images:
        ceph_admin(ceph, "rbd", "snap", "purge", "%s/%s" % (ceph["CEPH_POOL"], image), check=False)
    for image in reversed(images):
        ceph_admin(ceph, "rbd", "rm", "%s/%s" % (ceph["CEPH_POOL"], image), check=False)
    run_module("storage_pool", dict(name=prefix + "rbd", state="absent"))


def test_secret_and_pool_in_six_steps(ceph, prefix, secrets):  # noqa: F811  pylint: disable=redefined-outer-name
    """The secret and the pool, each in the six steps; the pool reports Ceph's own capacity."""
    usage = secret_args(prefix, ceph)["usage_id"]

    def no_secret():
        assert usage not in virsh("secret-list")

    def secret_defined():
        assert usage in virsh("secret-list")

    real = six_steps("storage_secret", secret_args(prefix, ceph), no_secret, secret_defined)
    secrets.append(real["secret"]["uuid"])
    assert ceph["CEPH_CLIENT_KEY"] not in json.dumps(real)
    name = prefix + "rbd"

    def no_pool():
        assert name not in virsh("pool-list", "--all")

    def pool_active():
        assert [line.split()[1] for line in virsh("pool-list", "--all").splitlines()
                if line.split() and line.split()[0] == name] == ["active"]

    try:
        six_steps("storage_pool", pool_args(prefix, ceph), no_pool, pool_active)
        info = run_ok("storage_pool_info", dict(name=name))["pools"][0]
        stats = json.loads(ceph_admin(ceph, "ceph", "df", "--format", "json"))["stats"]
        assert info["capacity"] == stats["total_bytes"], (info, stats)
        assert 0 < info["available"] <= stats["total_avail_bytes"] + 64 * MIB, (info, stats)
    finally:
        run_module("storage_pool", dict(name=name, state="absent"))


def test_volumes_create_grow_clone_delete(ceph, rbd_pool):  # noqa: F811  pylint: disable=redefined-outer-name
    """Each volume action in the six steps, Ceph asked after each: a raw image, grown, cloned (libvirt's rbd clone
    is Ceph's copy-on-write clone of a protected snapshot), the clone deleted, the base deleted with its
    snapshot (delete_snapshots)."""
    pool, images = rbd_pool
    images.extend(["base", "clone"])
    base = dict(pool=pool, name="base", capacity="64M", format="raw")

    def size_of(image, size):
        def check():
            info = image_info(ceph, image)
            assert info is not None and info["size"] == size, (image, info)
        return check

    def absent(image):
        def check():
            assert image_info(ceph, image) is None, image
        return check

    created = six_steps("storage_volume", base, absent("base"), size_of("base", 64 * MIB))
    assert created["volume"]["path"] == "%s/base" % ceph["CEPH_POOL"], created["volume"]
    six_steps("storage_volume", dict(base, capacity="128M"), size_of("base", 64 * MIB), size_of("base", 128 * MIB))

    clone = dict(pool=pool, name="clone", format="raw", clone_from=dict(name="base"))

    def a_clone_of_base():
        info = image_info(ceph, "clone")
        assert info is not None and info["size"] == 128 * MIB, info
        assert info["parent"]["image"] == "base" and info["parent"]["pool"] == ceph["CEPH_POOL"], info

    # a full copy (what clone_from makes in other pool types): libvirt cannot make one in an rbd pool; refused
    # before anything is made, check mode and real, saying why
    for check in (True, False):
        refused = run_module("storage_volume", dict(clone, clone_from=dict(name="base", mode="copy")), check=check)
        assert refused.get("failed") is True and refused["param"] == "clone_from.mode", refused
        assert "cannot copy one" in refused["msg"], refused["msg"]
        absent("clone")()
    six_steps("storage_volume", dict(clone, clone_from=dict(name="base", mode="cow")), absent("clone"),
              a_clone_of_base)

    # the base of a clone: Ceph refuses (the clone's parent is its snapshot), said clearly, nothing deleted
    for check in (True, False):
        refused = run_module("storage_volume", dict(pool=pool, name="base", state="absent", delete_snapshots=True),
                             check=check)
        if check:  # check mode cannot ask Ceph: it plans the deletion
            assert refused.get("changed") is True, refused
            continue
        assert refused.get("failed") is True and "base of rbd clones" in refused["msg"], refused
        assert "No such file or directory" in refused["msg"].split("libvirt reported")[1], refused["msg"]
        assert image_info(ceph, "base")["size"] == 128 * MIB and image_info(ceph, "clone") is not None

    six_steps("storage_volume", dict(clone, state="absent", clone_from=None), a_clone_of_base, absent("clone"))

    # the clone is gone, its snapshot not: a plain delete is refused, naming delete_snapshots
    without = run_module("storage_volume", dict(pool=pool, name="base", state="absent"))
    assert without.get("failed") is True and without["param"] == "delete_snapshots", without
    assert "Set delete_snapshots: true" in without["msg"], without["msg"]
    assert image_info(ceph, "base") is not None
    six_steps("storage_volume", dict(pool=pool, name="base", state="absent", delete_snapshots=True),
              size_of("base", 128 * MIB), absent("base"))


def test_volume_info_lists_images_with_their_network_disk(ceph, rbd_pool):  # noqa: F811  pylint: disable=redefined-outer-name
    pool, images = rbd_pool
    images.append("listed")
    run_ok("storage_volume", dict(pool=pool, name="listed", capacity="8M", format="raw"), changed=True)
    ceph_admin(ceph, "rbd", "create", "--size", "4", "%s/by-hand" % ceph["CEPH_POOL"])
    images.append("by-hand")
    before = [v["name"] for v in run_ok("storage_volume_info", dict(pool=pool))["volumes"]]
    assert "by-hand" not in before  # libvirt lists what it read when the pool started
    volumes = dict((v["name"], v) for v in run_ok("storage_volume_info", dict(pool=pool, refresh=True))["volumes"])
    assert {"listed", "by-hand"} <= set(volumes), sorted(volumes)
    disk = volumes["listed"]["disk"]
    assert disk["type"] == "network" and disk["source"]["protocol"] == "rbd", disk
    assert disk["source"]["name"] == "%s/listed" % ceph["CEPH_POOL"], disk
    assert disk["source"]["hosts"] == [{"name": "127.0.0.1", "port": int(ceph["CEPH_MON_PORT"])}], disk
    assert disk["source"]["auth"] == {"username": ceph["CEPH_CLIENT_NAME"], "secret": {
        "type": "ceph", "usage": secret_args(pool[:-len("rbd")], ceph)["usage_id"]}}, disk
    assert volumes["listed"]["capacity"] == 8 * MIB and volumes["by-hand"]["capacity"] == 4 * MIB
    assert ceph["CEPH_CLIENT_KEY"] not in json.dumps(volumes)


def test_a_guest_writes_through_the_network_disk(ceph, rbd_pool, linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    """disk_attach hot-plugs the volume into the running guest as a network disk with the monitors and the auth;
    the guest writes its marker, and Ceph's own export reads it on the host."""
    pool, images = rbd_pool
    images.append("guest-disk")
    run_ok("storage_volume", dict(pool=pool, name="guest-disk", capacity="16M", format="raw"), changed=True)
    guest = linux_guest(persistent=True)
    usage = secret_args(pool[:-len("rbd")], ceph)["usage_id"]

    def monitors_and_auth(element):
        source = element.find("source")
        assert [(h.get("name"), h.get("port")) for h in source.findall("host")] == [
            ("127.0.0.1", ceph["CEPH_MON_PORT"])]
        assert source.find("auth").get("username") == ceph["CEPH_CLIENT_NAME"]
        assert source.find("auth/secret").attrib == {"type": "ceph", "usage": usage}

    results = attach_then_detach(
        guest, dict(domain=guest.name, volume=dict(pool=pool, name="guest-disk"), disk=dict(serial="Wrbd")),
        "Wrbd", 16 * MIB // SECTOR,
        expect_disk("network", {"name": "qemu", "type": "raw"},
                    {"protocol": "rbd", "name": "%s/guest-disk" % ceph["CEPH_POOL"]},
                    {"dev": "vda", "bus": "virtio"}, monitors_and_auth),
        lambda: rbd_export_first_bytes(ceph, "guest-disk", workdir))
    assert rbd_export_first_bytes(ceph, "guest-disk", workdir) == marker("Wrbd")
    for result in results:
        assert ceph["CEPH_CLIENT_KEY"] not in json.dumps(result)


def test_a_wrong_key_and_a_dead_monitor_are_named(ceph, prefix, secrets):  # noqa: F811  pylint: disable=redefined-outer-name
    """libvirt words both 'No such file or directory'; the task says which, leaves no pool behind, and the rerun
    after the repair converges."""
    wrong = "QVFCd3Jvbmdrd3Jvbmdrd3Jvbmdrd3Jvbmdrd3Jvbmc9PQ=="
    made = run_ok("storage_secret", dict(secret_args(prefix, ceph, key=wrong), update_value="always"), changed=True)
    secrets.append(made["secret"]["uuid"])
    args = pool_args(prefix, ceph)
    try:
        refused = run_module("storage_pool", args)
        assert refused.get("failed") is True and refused["param"] == "source.auth.secret", refused
        assert "Ceph refused the login of client.%s" % ceph["CEPH_CLIENT_NAME"] in refused["msg"], refused["msg"]
        assert args["name"] not in virsh("pool-list", "--all")  # the pool it defined is undefined again

        dead = dict(args, source=dict(args["source"], hosts=[dict(name="127.0.0.1", port=1)]))
        down = run_module("storage_pool", dead)
        assert down.get("failed") is True and down["param"] == "source.hosts", down
        assert "no Ceph monitor answers at 127.0.0.1:1" in down["msg"], down["msg"]
        assert args["name"] not in virsh("pool-list", "--all")

        run_ok("storage_secret", dict(secret_args(prefix, ceph), update_value="always"), changed=True)
        run_ok("storage_pool", args, changed=True)
        run_ok("storage_pool", args, changed=False)
    finally:
        run_module("storage_pool", dict(name=args["name"], state="absent"))


def test_a_monitor_down_under_a_running_pool(ceph, prefix, rbd_pool):  # noqa: F811  pylint: disable=redefined-outer-name
    """The monitor stops under a running pool: a task that reads the pool again names the cause, libvirt stops the
    pool, and it cannot start; once the monitor is back, the rerun starts it and the next changes nothing. The
    image made before is listed again, with its size."""
    pool, images = rbd_pool
    images.append("kept")
    image = run_ok("storage_volume", dict(pool=pool, name="kept", capacity="8M", format="raw"), changed=True)
    monitor = "127.0.0.1:%s" % ceph["CEPH_MON_PORT"]
    stop_pid(int(ceph["CEPH_MON_PID"]))
    try:
        read = run_module("storage_volume_info", dict(pool=pool, refresh=True))
        assert read.get("failed") is True and read["param"] == "pool", read
        assert "no Ceph monitor answers at %s" % monitor in read["msg"], read["msg"]
        assert "libvirt stopped pool %s when its refresh failed" % pool in read["msg"], read["msg"]
        assert pool_state(pool) == "inactive"
        started = run_module("storage_pool", pool_args(prefix, ceph))
        assert started.get("failed") is True and started["param"] == "source.hosts", started
        assert "no Ceph monitor answers at %s" % monitor in started["msg"], started["msg"]
        assert pool_state(pool) == "inactive"
    finally:
        up_again("ceph", ceph, "CEPH_MON_PORT", "CEPH_MON_PORT_V2")
    run_ok("storage_pool", pool_args(prefix, ceph), changed=True)
    run_ok("storage_pool", pool_args(prefix, ceph), changed=False)
    listed = run_ok("storage_volume_info", dict(pool=pool, name="kept"))["volumes"]
    assert [v["capacity"] for v in listed] == [image["volume"]["capacity"]] == [image_info(ceph, "kept")["size"]]


def pool_state(name):
    """'active' or 'inactive' as virsh lists pool ``name`` (None: no such pool)."""
    rows = [line.split() for line in virsh("pool-list", "--all").splitlines()]
    return next((row[1] for row in rows if row and row[0] == name), None)


def test_the_readme_example(ceph, prefix, secrets, linux_guest, ansible):  # noqa: F811  pylint: disable=redefined-outer-name
    """The README's rbd playbook (secret -> pool -> image -> disk) converges, then changes nothing; the guest sees
    the disk; the key is nowhere in the output or the log. The README holds the playbook as it is run here."""
    guest = linux_guest(persistent=True)
    usage = "client.%s %sexample" % (ceph["CEPH_CLIENT_NAME"], prefix)
    variables = ansible.write_vars("vars.json", dict(
        ceph_monitors=[dict(name="127.0.0.1", port=int(ceph["CEPH_MON_PORT"]))], ceph_pool=ceph["CEPH_POOL"],
        ceph_user=ceph["CEPH_CLIENT_NAME"], ceph_secret_usage=usage, ceph_key=ceph["CEPH_CLIENT_KEY"],
        libvirt_pool=prefix + "example", guest=guest.name,
        ansible_python_interpreter=sys.executable))  # where libvirt-python is, as on a hypervisor's python3
    image = "%s/%s-data" % (ceph["CEPH_POOL"], guest.name)
    try:
        since = guest.mark()
        first = ansible.run("rbd_example.yml", variables)
        first.assert_ok(changed=4)
        assert guest.wait_for("ADD", "data", since).fields["bus"] == "virtio"
        ansible.run("rbd_example.yml", variables).assert_ok(changed=0)
        # the debug task prints the disk XML inside JSON: its quotes escaped
        assert '<host name=\\"127.0.0.1\\" port=\\"%s\\"/>' % ceph["CEPH_MON_PORT"] in first.stdout, str(first)
        with open(ansible.log_path) as handle:
            log = handle.read()
        for text in (first.stdout, first.stderr, log):
            assert ceph["CEPH_CLIENT_KEY"] not in text
    finally:
        volume = dict(pool=prefix + "example", name=guest.name + "-data")
        run_module("disk_attach", dict(domain=guest.name, volume=volume, state="absent"))
        run_module("storage_pool", dict(name=prefix + "example", state="absent"))
        ceph_admin(ceph, "rbd", "rm", image, check=False)
        for line in virsh("secret-list").splitlines():
            if usage in line:
                secrets.append(line.split()[0])
    assert_readme_shows("rbd_example.yml", "- name: A Ceph rbd pool")


def assert_readme_shows(playbook, first_line):
    """README.md holds playbooks/``playbook`` as it is run, from ``first_line`` on."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")) as handle:
        readme = handle.read()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", playbook)) as handle:
        text = handle.read()
    assert text[text.index(first_line):] in readme, "README.md must show tests/integration/playbooks/%s from %r on" % (
        playbook, first_line)


def test_two_hypervisors_share_one_pool(ceph, prefix, session_hypervisor, ansible):  # noqa: F811  pylint: disable=redefined-outer-name
    """The README's fleet playbook on two hypervisors, the system daemon and a non-root user's session daemon:
    the secret and the pool on both, each image made (then deleted) once by one host, and both hosts list the
    same images with the same sizes, after the deletion too."""
    images = dict(web=prefix + "web-data", db=prefix + "db-data")
    hypervisors = {
        "hv-system": dict(ansible_connection="local", ansible_python_interpreter=sys.executable),
        # the distribution's python3-libvirt and python3-lxml, as a hypervisor has them
        "hv-session": dict(ansible_connection="local", ansible_python_interpreter="/usr/bin/python3",
                           ansible_become=True, ansible_become_user=session_hypervisor["SESSION_USER"],
                           ansible_pipelining=True, libvirt_uri="qemu:///session")}
    inventory = ansible.write_vars("hosts.yml", {"hypervisors": {"hosts": hypervisors}})
    usage = "client.%s %sshared" % (ceph["CEPH_CLIENT_NAME"], prefix)
    settings = dict(
        ceph_monitors=[dict(name="127.0.0.1", port=int(ceph["CEPH_MON_PORT"]))], ceph_pool=ceph["CEPH_POOL"],
        ceph_user=ceph["CEPH_CLIENT_NAME"], ceph_secret_usage=usage, ceph_secret_uuid=str(uuid.uuid4()),
        ceph_key=ceph["CEPH_CLIENT_KEY"], libvirt_pool=prefix + "shared",
        shared_images=[dict(name=images["web"], capacity="64M"), dict(name=images["db"], capacity="32M")])

    def converge(*options, **changes):
        variables = ansible.write_vars("vars-%s.json" % uuid.uuid4().hex[:6], dict(settings, **changes))
        run = ansible.run("shared_rbd_pool_report.yml", variables, *options, inventory=inventory)
        run.assert_ok()
        listed = {}
        for host, images in re.findall(r'^ok: \[([\w-]+)\] => \{\s*"msg": "LISTED ([^"]*)"', run.stdout, re.MULTILINE):
            pairs = [image.rsplit("=", 1) for image in images.split(",") if image.startswith(prefix)]
            listed[host] = dict((name, int(size)) for name, size in pairs)
        assert sorted(listed) == sorted(hypervisors), str(run)
        return run, listed

    def made_by(run):
        """The hosts on which the image task ran its module (run_once: one)."""
        task = run.stdout[run.stdout.index("TASK [Each shared image"):run.stdout.index("TASK [What every")]
        return set(re.findall(r"^(?:changed|ok): \[([\w-]+)\] => \(item=", task, re.MULTILINE))

    try:
        first, listed = converge()
        assert made_by(first) == {"hv-system"}, str(first)
        sizes = {images["web"]: 64 * 1024 ** 2, images["db"]: 32 * 1024 ** 2}
        assert listed == {"hv-system": sizes, "hv-session": sizes}, listed
        for image, size in sizes.items():
            assert image_info(ceph, image)["size"] == size
        for host in hypervisors:  # the secret and the pool are each host's own
            assert "changed: [%s]" % host in first.stdout[first.stdout.index("TASK [The rbd pool"):], str(first)
        again, listed = converge()
        assert again.recap["changed"] == 0, str(again)
        assert listed == {"hv-system": sizes, "hv-session": sizes}, listed

        retired = [dict(name=images["web"], state="absent"), settings["shared_images"][1]]
        check, listed = converge("--check", shared_images=retired)
        assert "changed: [hv-system] => (item={'name': '%s'" % images["web"] in check.stdout, str(check)
        assert listed == {"hv-system": sizes, "hv-session": sizes}, listed  # check mode deleted nothing
        deleted, listed = converge(shared_images=retired)
        assert made_by(deleted) == {"hv-system"}, str(deleted)
        left = {images["db"]: 32 * 1024 ** 2}
        assert listed == {"hv-system": left, "hv-session": left}, listed
        assert images["web"] not in ceph_admin(ceph, "rbd", "ls", ceph["CEPH_POOL"]).split()
        after, listed = converge(shared_images=retired)
        assert after.recap["changed"] == 0 and listed == {"hv-system": left, "hv-session": left}, str(after)
        with open(ansible.log_path) as handle:
            log = handle.read()
        for text in (first.stdout, first.stderr, log):
            assert ceph["CEPH_CLIENT_KEY"] not in text
    finally:
        run_module("storage_pool", dict(name=settings["libvirt_pool"], state="absent"))
        run_module("storage_secret", dict(uuid=settings["ceph_secret_uuid"], state="absent"))
        for image in images.values():
            ceph_admin(ceph, "rbd", "rm", "%s/%s" % (ceph["CEPH_POOL"], image), check=False)
        # the session daemon's pool and secret go with its state (session_hypervisor)
    assert_readme_shows("shared_rbd_pool.yml", "- name: One Ceph rbd pool on every hypervisor")

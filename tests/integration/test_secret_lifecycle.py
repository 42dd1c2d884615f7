"""Lifecycle of real libvirt secrets: storage_secret and storage_secret_info against libvirtd.

Every change runs the six steps of ``six_steps`` (check mode, real run, check
mode again and real run again, which must change nothing) and checks the host
after each step: the secret's XML and usage with virsh, the value of a
non-private secret with ``virsh secret-get-value``. libvirt never returns the
value of a private secret; for those the tests read what libvirt stores
(``/etc/libvirt/secrets/<uuid>.base64``, only root can read it) and, for a
LUKS passphrase, open a volume libvirt created with the secret using
``qemu-img``. The references that protect a secret from removal are real too:
a defined iscsi-direct pool, a LUKS volume of an active dir pool and a defined
guest with an rbd disk. No value may ever appear in a module result.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest
from lxml import etree

from .conftest import (
    URI, assert_refused, pool_exists, pool_info, remove_pool, run_module, six_steps, virsh, warnings_of)
from .volume_helpers import make_dir_pool, qemu_img_info, undefine_guest, vol_exists

try:  # the value fingerprints the module keeps (installed collection, on PYTHONPATH)
    from ansible_collections.virtops.storage.plugins.module_utils.secret import ValueRecords
except ImportError:  # pragma: no cover - the harness asserts the installation itself
    ValueRecords = None

LIBVIRT_SECRETS = "/etc/libvirt/secrets"  # where qemu:///system keeps secret definitions and values
FIELDS = {"uuid", "usage_type", "usage_id", "description", "ephemeral", "private"}


# ---------------------------------------------------------------- host helpers (virsh, libvirt's store)

def list_secrets():
    """``virsh secret-list`` as [(uuid, usage type, usage id)] ('' for a secret without usage)."""
    rows = []
    for line in virsh("secret-list").splitlines():
        parts = line.split(None, 2) + ["", ""]
        if parts[0]:
            rows.append((parts[0], parts[1], parts[2].strip()))
    return rows


def secret_uuid_by_usage(usage_type, usage_id):
    """The uuid of the secret libvirt lists with that usage, or None."""
    found = [row[0] for row in list_secrets() if row[1:] == (usage_type, usage_id)]
    assert len(found) <= 1, found
    return found[0] if found else None


def secret_exists(secret_uuid):
    return bool(virsh("secret-dumpxml", secret_uuid, check=False).strip())


def exists(secret_uuid, expected=True):
    """A verify function for six_steps: the secret with ``secret_uuid`` exists (or, ``expected=False``, not)."""
    def verify():
        assert secret_exists(secret_uuid) is expected, (secret_uuid, list_secrets())
    return verify


def no_secret_with(usage_type, usage_id):
    """A verify function for six_steps: no secret has that usage."""
    def verify():
        assert secret_uuid_by_usage(usage_type, usage_id) is None, list_secrets()
    return verify


def secret_xml(secret_uuid):
    """``virsh secret-dumpxml`` of a secret as an lxml element."""
    return etree.fromstring(virsh("secret-dumpxml", secret_uuid).encode("utf-8"))


def secret_usage(secret_uuid):
    """(usage type, usage id) of a secret, from its XML."""
    usage = secret_xml(secret_uuid).find("usage")
    return usage.get("type"), usage[0].text


def is_private(secret_uuid):
    return secret_xml(secret_uuid).get("private") == "yes"


def is_ephemeral(secret_uuid):
    return secret_xml(secret_uuid).get("ephemeral") == "yes"


def value_of(secret_uuid):
    """The value of a non-private secret (bytes), as ``virsh secret-get-value`` returns it (base64)."""
    return base64.b64decode(virsh("secret-get-value", secret_uuid).strip())


def stored_value(secret_uuid):
    """The value libvirt keeps on disk for a persistent secret (private ones too), or None when none is stored."""
    try:
        with open(os.path.join(LIBVIRT_SECRETS, secret_uuid + ".base64")) as handle:
            return base64.b64decode(handle.read().strip())
    except FileNotFoundError:
        return None


def luks_opens(path, passphrase):
    """True when ``passphrase`` unlocks the LUKS image at ``path`` and its content reads, False when refused.

    ``qemu-img info`` opens an image without unlocking it; ``convert`` must read (decrypt) every byte.
    """
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["qemu-img", "convert", "--object", "secret,id=s0,data=" + passphrase, "--image-opts",
                               "driver=luks,key-secret=s0,file.filename=" + path, "-O", "raw",
                               os.path.join(tmp, "plain")], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        assert "Invalid password" in proc.stderr, proc.stderr
    return proc.returncode == 0


def define_rbd_guest(name, ceph_usage):
    """Define (not start) a guest with an rbd disk that authenticates with the ceph secret of ``ceph_usage``."""
    xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64'>hvm</type></os><devices><disk type='network' device='disk'>"
           "<driver name='qemu' type='raw'/><source protocol='rbd' name='vms/%s'><host name='127.0.0.1'/>"
           "<auth username='libvirt'><secret type='ceph' usage='%s'/></auth></source>"
           "<target dev='vda' bus='virtio'/></disk></devices></domain>" % (name, name, ceph_usage))
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as handle:
        handle.write(xml)
        handle.flush()
        virsh("define", handle.name)


# ---------------------------------------------------------------- module helpers

def new_value():
    """A random passphrase (no comma: it goes into qemu-img's --object option)."""
    return "pw-" + uuid.uuid4().hex


def run_ok(args, module="storage_secret", check=False, changed=None):
    """Run a module that must succeed (and report ``changed`` when given); return its result."""
    result = run_module(module, args, check=check)
    assert not result.get("failed"), result
    if changed is not None:
        assert result["changed"] is changed, result
    return result


def create_secret(usage_type, usage_id, value, **args):
    """Create a secret with storage_secret (real run); return its uuid."""
    result = run_ok(dict(args, usage_type=usage_type, usage_id=usage_id, value=value), changed=True)
    assert secret_uuid_by_usage(usage_type, usage_id) == result["secret"]["uuid"], result
    return result["secret"]["uuid"]


def assert_no_value(result, *values):
    """No spelling of any of ``values`` (text, bytes: itself, base64, hex) appears anywhere in ``result``."""
    text = json.dumps(result)
    for value in values:
        raw = value.encode("utf-8") if isinstance(value, str) else value
        forms = {base64.b64encode(raw).decode("ascii"), raw.hex(), raw.hex().upper()}
        if isinstance(value, str):
            forms.add(value)
        leaked = [form for form in forms if form in text]
        assert not leaked, "a secret value leaked into the module result"


def keys_of(data):
    """Every dict key anywhere in ``data``."""
    if isinstance(data, dict):
        return set(data) | set().union(*(keys_of(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(keys_of(v) for v in data))
    return set()


def chap_pool_args(name, secret, state="present"):
    """storage_pool arguments of an iscsi-direct pool whose CHAP auth names ``secret`` ({'usage'|'uuid': ...})."""
    return dict(name=name, type="iscsi-direct", state=state, source=dict(
        hosts=[dict(name="127.0.0.1", port=3260)], devices=[dict(path="iqn.2003-01.org.example:t")],
        initiator_iqn="iqn.2003-01.org.example:init", auth=dict(type="chap", username="u", secret=secret)))


# ---------------------------------------------------------------- fixtures

def remove_secrets(prefix, uuids=()):
    """Undefine ``uuids`` and every secret whose usage id holds ``prefix``; forget the module's fingerprints of them."""
    for secret_uuid in set(uuids) | set(row[0] for row in list_secrets() if prefix in row[2]):
        virsh("secret-undefine", secret_uuid, check=False)
        if ValueRecords is not None:
            ValueRecords().forget(URI, secret_uuid)


@pytest.fixture
def secrets(prefix):
    """UUIDs of secrets a test makes; those and every secret whose usage id holds ``prefix`` are removed after."""
    made = []
    yield made
    remove_secrets(prefix, made)


@pytest.fixture(scope="module")
def referenced():
    """Three secrets, each referenced by something libvirt holds, keyed by what references them.

    ``pool``: an iscsi secret named by usage in the CHAP auth of a defined (inactive) iscsi-direct pool;
    ``volume``: a volume secret named by uuid in the encryption of a LUKS volume of an active dir pool;
    ``guest``: a ceph secret named by usage in the auth of a defined guest's rbd disk.
    Each entry: uuid, usage_type, usage_id, value, description and ``by`` (how the secret's references list it).
    Shared by the tests of this module (creating a LUKS volume takes seconds): they must not change it.
    """
    prefix = "vt-%s-" % uuid.uuid4().hex[:8]
    workdir = tempfile.mkdtemp(prefix="virtops-it-")
    os.chmod(workdir, 0o755)
    pools, guest = [], prefix + "guest"
    made = {}

    def secret(kind, usage_type, usage_id, by):
        value, description = new_value(), "%s secret of %s" % (usage_type, kind)
        made[kind] = dict(uuid=create_secret(usage_type, usage_id, value, description=description), by=by,
                          usage_type=usage_type, usage_id=usage_id, value=value, description=description)
        return made[kind]

    try:
        iscsi_pool = prefix + "chap"
        pools.append(iscsi_pool)
        secret("pool", "iscsi", prefix + "chap", iscsi_pool)
        run_ok(chap_pool_args(iscsi_pool, dict(usage=prefix + "chap")), module="storage_pool", changed=True)
        assert pool_info(iscsi_pool)["State"] == "inactive"

        dir_pool, volume = prefix + "dir", prefix + "disk.img"
        target = make_dir_pool(pools, dir_pool, os.path.join(workdir, "dir"))
        luks = secret("volume", "volume", os.path.join(target, volume), "%s/%s" % (dir_pool, volume))
        run_ok(dict(pool=dir_pool, name=volume, capacity="16M", format="raw",
                    encryption=dict(format="luks", secret=dict(uuid=luks["uuid"]))),
               module="storage_volume", changed=True)

        secret("guest", "ceph", prefix + "rbd", guest + " vda")
        define_rbd_guest(guest, prefix + "rbd")
        yield made
    finally:
        undefine_guest(guest)
        for name in pools:
            remove_pool(name)
        remove_secrets(prefix)
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- 1. create

def test_create_private_by_usage_and_by_uuid(prefix, secrets):  # pylint: disable=redefined-outer-name
    """A private ceph secret defined by usage gets libvirt's uuid; one with a given uuid keeps it (value_b64)."""
    usage_id, value, description = prefix + "ceph", new_value(), "cephx key of " + prefix
    args = dict(usage_type="ceph", usage_id=usage_id, description=description, value=value)

    def after_create():
        secret_uuid = secret_uuid_by_usage("ceph", usage_id)
        assert secret_uuid is not None, list_secrets()
        definition = secret_xml(secret_uuid)
        assert definition.get("private") == "yes" and definition.get("ephemeral") == "no"
        assert definition.findtext("description") == description
        assert stored_value(secret_uuid) == value.encode("utf-8")

    real = six_steps("storage_secret", args, no_secret_with("ceph", usage_id), after_create)
    assert real["actions"] == ["define secret ceph %s" % usage_id, "set the value of secret ceph %s" % usage_id]
    assert real["secret"] == dict(uuid=secret_uuid_by_usage("ceph", usage_id), usage_type="ceph", usage_id=usage_id,
                                  description=description, ephemeral=False, private=True), real["secret"]
    assert_no_value(real, value)

    # a given uuid, an iscsi usage, and a binary value as base64 wrapped like base64(1) wraps it
    secret_uuid, iscsi_id, raw = str(uuid.uuid4()), prefix + "san", os.urandom(48)
    secrets.append(secret_uuid)
    encoded = base64.b64encode(raw).decode("ascii")
    args = dict(uuid=secret_uuid, usage_type="iscsi", usage_id=iscsi_id, value_b64=encoded[:40] + "\n" + encoded[40:])

    def after_uuid():
        assert secret_uuid_by_usage("iscsi", iscsi_id) == secret_uuid
        assert secret_usage(secret_uuid) == ("iscsi", iscsi_id)
        assert is_private(secret_uuid) and not is_ephemeral(secret_uuid)
        assert stored_value(secret_uuid) == raw

    real = six_steps("storage_secret", args, exists(secret_uuid, False), after_uuid)
    assert real["secret"]["uuid"] == secret_uuid and real["secret"]["usage_type"] == "iscsi", real["secret"]
    assert real["diff"]["after"]["value"] == "(not shown, changed)", real["diff"]
    assert_no_value(real, raw)


# ---------------------------------------------------------------- 2. description

def test_change_description(prefix, secrets):  # pylint: disable=redefined-outer-name
    """A new description redefines the secret found by usage in place: same uuid, same (private) value."""
    usage_id, value = prefix + "ceph", new_value()
    secret_uuid = create_secret("ceph", usage_id, value, description="old")

    def described(text):
        def verify():
            assert secret_uuid_by_usage("ceph", usage_id) == secret_uuid
            assert secret_xml(secret_uuid).findtext("description") == text
            assert is_private(secret_uuid) and stored_value(secret_uuid) == value.encode("utf-8")
        return verify

    args = dict(usage_type="ceph", usage_id=usage_id, description="new", value=value)
    real = six_steps("storage_secret", args, described("old"), described("new"))
    assert real["actions"] == ["redefine secret ceph %s (description)" % usage_id], real["actions"]
    assert real["secret"]["uuid"] == secret_uuid and real["secret"]["description"] == "new"
    assert warnings_of(real) == [], real  # the declared value is the one the module set: nothing to say
    assert_no_value(real, value)


# ---------------------------------------------------------------- 3. value of a non-private secret

def test_change_value_of_non_private_secret(prefix, secrets):  # pylint: disable=redefined-outer-name
    """A non-private secret's value is compared and set when it differs, whatever update_value says."""
    usage_id, first, second = prefix + "ceph", new_value(), new_value()
    secret_uuid = create_secret("ceph", usage_id, first, private=False)

    def holds(value):
        def verify():
            assert value_of(secret_uuid) == value.encode("utf-8")
        return verify

    real = six_steps("storage_secret", dict(usage_type="ceph", usage_id=usage_id, private=False, value=second),
                     holds(first), holds(second))
    assert real["actions"] == ["set the value of secret ceph %s" % usage_id], real["actions"]
    assert secret_uuid_by_usage("ceph", usage_id) == secret_uuid and not is_private(secret_uuid)
    assert_no_value(real, first, second)


# ---------------------------------------------------------------- 4. update_value on a private secret

def test_update_value_of_private_secret(workdir, prefix, pools, secrets):  # pylint: disable=redefined-outer-name
    """on_create leaves a private value (with a warning naming update_value); always sets it once, then no more.

    libvirt really holds the new value: it is what libvirt stores, and a LUKS volume libvirt creates with the
    secret afterwards opens with it and not with the old one.
    """
    pool = prefix + "luks"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "luks"))
    path = os.path.join(target, prefix + "a.img")
    first, second = new_value(), new_value()
    args = dict(usage_type="volume", usage_id=path, value=first)
    secret_uuid = create_secret("volume", path, first)

    for check in (True, False):  # on_create: another value is not set, and the task says why
        kept = run_ok(dict(args, value=second), check=check, changed=False)
        assert kept["actions"] == [], kept
        assert any("update_value" in text for text in warnings_of(kept)), kept
        assert stored_value(secret_uuid) == first.encode("utf-8")
        assert_no_value(kept, first, second)

    def holds(value):
        def verify():
            assert secret_uuid_by_usage("volume", path) == secret_uuid
            assert is_private(secret_uuid)
            assert stored_value(secret_uuid) == value.encode("utf-8")
        return verify

    real = six_steps("storage_secret", dict(args, value=second, update_value="always"), holds(first), holds(second))
    assert real["actions"] == ["set the value of secret volume %s" % path], real["actions"]
    assert_no_value(real, first, second)

    # the module now knows the value it set: no warning for it with on_create, one for the old value
    assert warnings_of(run_ok(dict(args, value=second), changed=False)) == []
    stale = run_ok(args, changed=False)
    assert any("update_value" in text for text in warnings_of(stale)), stale
    holds(second)()

    run_ok(dict(pool=pool, name=prefix + "a.img", capacity="16M", format="raw",
                encryption=dict(format="luks", secret=dict(uuid=secret_uuid))), module="storage_volume", changed=True)
    assert qemu_img_info(path)["format"] == "luks"
    assert luks_opens(path, second)
    assert not luks_opens(path, first)

    # a new passphrase does not re-encrypt the volume: the task warns, naming it, and the volume keeps the old one
    third = new_value()
    rekeyed = run_ok(dict(args, value=third, update_value="always"), changed=True)
    assert any("%s/%s" % (pool, prefix + "a.img") in text and "no longer open" in text
               for text in warnings_of(rekeyed)), rekeyed
    assert_no_value(rekeyed, first, second, third)
    assert stored_value(secret_uuid) == third.encode("utf-8")
    assert luks_opens(path, second) and not luks_opens(path, third)


# ---------------------------------------------------------------- 5. absent

def test_absent(prefix, secrets):  # pylint: disable=redefined-outer-name
    """state: absent undefines the secret found by usage; libvirt drops its stored value."""
    usage_id = prefix + "ceph"
    secret_uuid = create_secret("ceph", usage_id, new_value())

    def gone():
        no_secret_with("ceph", usage_id)()
        exists(secret_uuid, False)()
        assert stored_value(secret_uuid) is None

    real = six_steps("storage_secret", dict(usage_type="ceph", usage_id=usage_id, state="absent"), exists(secret_uuid),
                     gone)
    assert real["actions"] == ["undefine secret ceph %s" % usage_id], real["actions"]
    assert real["secret"] is None, real


# ---------------------------------------------------------------- 6. re-creation and in-place flags

def test_recreation_keeps_uuid(prefix, secrets):  # pylint: disable=redefined-outer-name
    """private -> non-private and a new usage re-create the secret with its uuid; ephemeral, private change in place.

    Without a value to re-create with, private -> non-private is refused and nothing changes; so is a new usage
    that another secret holds.
    """
    usage_id, moved, first, second = prefix + "ceph", prefix + "moved", new_value(), new_value()
    secret_uuid = create_secret("ceph", usage_id, first)

    for check in (True, False):
        refused = run_module("storage_secret", dict(usage_type="ceph", usage_id=usage_id, private=False), check=check)
        assert_refused(refused, "private", "nothing was changed")
        assert secret_uuid_by_usage("ceph", usage_id) == secret_uuid and is_private(secret_uuid)
        assert stored_value(secret_uuid) == first.encode("utf-8")

    def public(usage, ephemeral=False):
        def verify():
            assert secret_uuid_by_usage("ceph", usage) == secret_uuid
            assert not is_private(secret_uuid) and is_ephemeral(secret_uuid) is ephemeral
            assert value_of(secret_uuid) == second.encode("utf-8")
        return verify

    def private_first():
        assert is_private(secret_uuid) and stored_value(secret_uuid) == first.encode("utf-8")

    # on_create: nothing shows that the declared value is the private secret's current one
    args = dict(usage_type="ceph", usage_id=usage_id, private=False, value=second)
    for check in (True, False):
        assert_refused(run_module("storage_secret", args, check=check), "private", "update_value: always")
        private_first()

    args = dict(args, update_value="always")
    real = six_steps("storage_secret", args, private_first, public(usage_id))
    (action,) = real["actions"]
    assert action.startswith("re-create secret ceph %s with uuid %s" % (usage_id, secret_uuid)), action
    assert_no_value(real, first, second)

    # a new usage id for the secret named by uuid: re-created with the value read back (none declared)
    args = dict(uuid=secret_uuid, usage_type="ceph", usage_id=moved, private=False)
    real = six_steps("storage_secret", args, public(usage_id), public(moved))
    (action,) = real["actions"]
    assert action.startswith("re-create secret ceph %s with uuid %s" % (moved, secret_uuid)), action
    assert secret_uuid_by_usage("ceph", usage_id) is None

    # a usage another secret holds is refused before anything is undefined
    taken = prefix + "taken"
    other = create_secret("ceph", taken, new_value())
    refused = run_module("storage_secret", dict(args, usage_id=taken))
    assert_refused(refused, "uuid", other)
    public(moved)()
    assert secret_uuid_by_usage("ceph", taken) == other

    # ephemeral: in place, the value stays (libvirt keeps it in memory only, nothing on disk)
    def in_memory():
        public(moved, ephemeral=True)()
        assert stored_value(secret_uuid) is None

    real = six_steps("storage_secret", dict(args, ephemeral=True), public(moved), in_memory)
    assert real["actions"] == ["redefine secret ceph %s (ephemeral)" % moved], real["actions"]
    real = six_steps("storage_secret", dict(args, ephemeral=False), in_memory, public(moved))
    assert real["actions"] == ["redefine secret ceph %s (ephemeral)" % moved], real["actions"]
    assert stored_value(secret_uuid) == second.encode("utf-8")

    # non-private -> private: in place too, the value stays (no value declared)
    def private_second():
        assert secret_uuid_by_usage("ceph", moved) == secret_uuid and is_private(secret_uuid)
        assert stored_value(secret_uuid) == second.encode("utf-8")

    real = six_steps("storage_secret", dict(args, private=True), public(moved), private_second)
    assert real["actions"] == ["redefine secret ceph %s (private)" % moved], real["actions"]


def test_new_usage_id_refused_while_named_by_the_old_one(prefix, pools, secrets):  # pylint: disable=W0621
    """A pool naming the secret by its usage id would lose it: a new usage id needs allow_in_use (and warns)."""
    usage_id, moved = prefix + "chap", prefix + "chap2"
    secret_uuid = create_secret("iscsi", usage_id, new_value(), private=False)
    name = prefix + "bychap"
    pools.append(name)
    run_ok(chap_pool_args(name, {"usage": usage_id}), module="storage_pool", changed=True)
    args = dict(uuid=secret_uuid, usage_type="iscsi", usage_id=moved)
    for check in (True, False):
        refused = run_module("storage_secret", args, check=check)
        assert_refused(refused, "allow_in_use", "pools %s" % name)
        assert secret_uuid_by_usage("iscsi", usage_id) == secret_uuid
    moved_result = run_ok(dict(args, allow_in_use=True), changed=True)
    assert secret_uuid_by_usage("iscsi", moved) == secret_uuid
    assert any(name in text and "old one" in text for text in warnings_of(moved_result)), moved_result


# ---------------------------------------------------------------- 7. absent while referenced

def test_absent_refused_while_referenced(referenced, prefix, pools, secrets):  # pylint: disable=redefined-outer-name
    """A secret a pool, a volume or a guest disk names is not removed (unless allow_in_use); the error names them."""
    what = {"pool": "pools %s", "volume": "volumes %s", "guest": "guests %s"}
    for kind, secret in sorted(referenced.items()):
        args = dict(usage_type=secret["usage_type"], usage_id=secret["usage_id"], state="absent")
        if kind == "volume":  # named as the volume names it
            args = dict(uuid=secret["uuid"], state="absent")
        for check in (True, False):
            refused = run_module("storage_secret", args, check=check)
            assert_refused(refused, "allow_in_use", what[kind] % secret["by"])
            assert secret_exists(secret["uuid"]), kind
            assert_no_value(refused, secret["value"])

    # allow_in_use: true removes it anyway, with a warning (on a pool of this test: ``referenced`` is shared)
    usage_id, name = prefix + "chap", prefix + "chap"
    pools.append(name)
    secret_uuid = create_secret("iscsi", usage_id, new_value())
    run_ok(chap_pool_args(name, dict(usage=usage_id)), module="storage_pool", changed=True)
    args = dict(usage_type="iscsi", usage_id=usage_id, state="absent", allow_in_use=True)
    real = six_steps("storage_secret", args, exists(secret_uuid), exists(secret_uuid, False))
    assert any("referenced by pools %s" % name in text for text in warnings_of(real)), real
    assert pool_exists(name)  # the pool stays; it cannot log in until the secret is defined again


# ---------------------------------------------------------------- 8. info

def test_info(referenced):  # pylint: disable=redefined-outer-name
    """storage_secret_info lists every secret with what references it, finds one by uuid or usage, never a value."""
    values = [secret["value"] for secret in referenced.values()]
    everything = run_ok({}, module="storage_secret_info", changed=False)
    listed = everything["secrets"]
    assert listed == sorted(listed, key=lambda s: (s["usage_type"] or "", s["usage_id"] or "", s["uuid"]))
    by_uuid = dict((item["uuid"], item) for item in listed)
    for kind, secret in referenced.items():
        item = by_uuid[secret["uuid"]]
        assert set(item) == FIELDS | {"referenced_by"}, item
        assert dict((field, item[field]) for field in FIELDS) == dict(
            uuid=secret["uuid"], usage_type=secret["usage_type"], usage_id=secret["usage_id"],
            description=secret["description"], ephemeral=False, private=True), item
        expected = {"pools": [], "volumes": [], "guests": []}
        expected[kind + "s"] = [secret["by"]]
        assert item["referenced_by"] == expected, (kind, item)

    secret = referenced["volume"]
    for args in (dict(uuid=secret["uuid"]), dict(usage_type="volume", usage_id=secret["usage_id"])):
        one = run_ok(args, module="storage_secret_info", check=True, changed=False)
        assert one["exists"] is True and one["secrets"] == [by_uuid[secret["uuid"]]], one
        assert_no_value(one, *values)
    for args in (dict(uuid=str(uuid.uuid4())), dict(usage_type="ceph", usage_id=secret["usage_id"].split("/")[-1]),
                 dict(uuid=secret["uuid"], usage_type="ceph", usage_id=referenced["guest"]["usage_id"])):
        missing = run_ok(args, module="storage_secret_info", changed=False)
        assert missing["exists"] is False and missing["secrets"] == [], missing

    assert "value" not in keys_of(everything)
    assert_no_value(everything, *values)


# ---------------------------------------------------------------- 9. pools and volumes naming secrets

def test_pool_and_volume_check_their_secret(workdir, prefix, pools, secrets):  # pylint: disable=redefined-outer-name
    """storage_pool and storage_volume check the secret they name: its usage type, and that it exists when needed."""
    name = prefix + "chap"
    pools.append(name)
    ceph_uuid = create_secret("ceph", prefix + "ceph", new_value())

    wrong = run_module("storage_pool", chap_pool_args(name, dict(uuid=ceph_uuid)))
    assert_refused(wrong, "source.auth.secret", "usage type ceph, not iscsi")
    assert not pool_exists(name)

    missing = dict(usage=prefix + "nothing")
    refused = run_module("storage_pool", chap_pool_args(name, missing, state="active"))
    assert_refused(refused, "source.auth.secret", prefix + "nothing")
    assert not pool_exists(name)

    planned = run_ok(chap_pool_args(name, missing, state="active"), module="storage_pool", check=True, changed=True)
    assert any("source.auth.secret" in text for text in warnings_of(planned)), planned
    assert not pool_exists(name)

    # a pool that is only defined needs its secret in a real run too (it may start at boot)
    planned = run_ok(chap_pool_args(name, missing), module="storage_pool", check=True, changed=True)
    assert any("source.auth.secret" in text and prefix + "nothing" in text for text in warnings_of(planned)), planned
    refused = run_module("storage_pool", chap_pool_args(name, missing))
    assert_refused(refused, "source.auth.secret", prefix + "nothing")
    assert not pool_exists(name)

    dir_pool = prefix + "dir"
    make_dir_pool(pools, dir_pool, os.path.join(workdir, "dir"))
    args = dict(pool=dir_pool, name="x.img", capacity="16M", encryption=dict(secret=dict(uuid=str(uuid.uuid4()))))
    planned = run_ok(args, module="storage_volume", check=True, changed=True)
    assert any("encryption.secret" in text for text in warnings_of(planned)), planned
    refused = run_module("storage_volume", args)
    assert_refused(refused, "encryption.secret", args["encryption"]["secret"]["uuid"])
    assert not vol_exists(dir_pool, "x.img")

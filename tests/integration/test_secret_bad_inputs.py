"""Bad input to storage_secret and storage_secret_info against the real libvirtd: refused, named, nothing changed.

Every case runs the installed module as Ansible does, in check mode and for
real, and checks that it failed, that ``msg`` names the offending parameter,
that no Python traceback leaked out, that no value the task carries (as text,
base64 or hex) appears anywhere in the result or on stderr, and that the host
is as before: the secrets of the test (``virsh secret-list`` uuids and
usages, plus any secret without usage), the XML of the two existing secrets,
the value of the non-private one and the value fingerprint records.

Each test gets two existing secrets, named with the ``prefix`` fixture: a
non-private ceph secret and a private iscsi secret, both with a value.
"""

import base64
import binascii
import hashlib
import json
import os
import subprocess
import uuid

import libvirt
import pytest

from .conftest import URI, assert_refused, run_module, substitute, virsh

SECRET, INFO = "storage_secret", "storage_secret_info"
USAGE_TYPES = ("ceph", "iscsi", "volume", "tls", "vtpm")
RECORD_DIRS = ("/var/lib/virtops-storage/secrets",
               os.path.join(os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"),
                            "virtops-storage", "secrets"))


# ---------------------------------------------------------------- the existing secrets, made per test

def _define(conn, usage_type, usage_id, private, value):
    tag = {"ceph": "name", "iscsi": "target", "volume": "volume"}[usage_type]
    secret = conn.secretDefineXML("<secret ephemeral='no' private='%s'><usage type='%s'><%s>%s</%s></usage>"
                                  "</secret>" % ("yes" if private else "no", usage_type, tag, usage_id, tag), 0)
    secret.setValue(value, 0)
    return secret.UUIDString()


def _record_path(directory, secret_uuid):
    key = "%s %s" % (URI, secret_uuid)
    return os.path.join(directory, hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json")


@pytest.fixture
def env(prefix):
    """Two existing secrets and the tokens the cases use; every secret of the test removed afterwards."""
    conn = libvirt.open(URI)
    made = []
    try:
        open_id, private_id = prefix + "open", prefix + "private"
        open_value = b"open-" + os.urandom(12).hex().encode("ascii")
        made.append(_define(conn, "ceph", open_id, False, open_value))
        made.append(_define(conn, "iscsi", private_id, True, b"private-" + os.urandom(12).hex().encode("ascii")))
        # the values the cases carry: never the ones of the secrets, never containing the prefix
        text_value = "Tq-%s-s3cret" % uuid.uuid4().hex[:16]
        binary_value = os.urandom(24)
        tokens = {
            "@P": prefix, "@OPEN_ID": open_id, "@PRIV_ID": private_id,
            "@OPEN": made[0], "@PRIV": made[1], "@NEW": str(uuid.uuid4()),
            "@VALUE": text_value, "@B64VALUE": base64.b64encode(binary_value).decode("ascii"),
        }
        info = {"prefix": prefix, "tokens": tokens, "uuids": [made[0], made[1], tokens["@NEW"]]}
        info["baseline"] = baseline = host_state(info)
        # the snapshot sees what it must compare: both secrets listed, both XMLs, a value, no virsh error
        assert baseline["virsh errors"] == "" and baseline["value and xml"].count("<secret ") == 2, baseline
        assert [row[0] for row in baseline["secrets"]] == sorted(made), baseline
        shown_value = baseline["value and xml"].split("<secret")[0].strip()
        assert shown_value == base64.b64encode(open_value).decode("ascii"), baseline
        yield info
    finally:
        for secret in conn.listAllSecrets(0):
            secret_uuid = secret.UUIDString()
            if secret_uuid in made or prefix in (secret.usageID() or ""):
                made.append(secret_uuid)
                try:
                    secret.undefine()
                except libvirt.libvirtError:
                    pass  # gone meanwhile
        for secret_uuid in set(made):
            for directory in RECORD_DIRS:
                if os.path.exists(_record_path(directory, secret_uuid)):
                    os.unlink(_record_path(directory, secret_uuid))
        conn.close()


# ---------------------------------------------------------------- the host, before and after

def _secret_list(listing=None):
    """(uuid, usage) of every secret, as ``virsh secret-list`` shows them."""
    rows = []
    for line in (virsh("secret-list") if listing is None else listing).splitlines():
        parts = line.split(None, 1)
        if parts:
            rows.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return rows


def _record(secret_uuid):
    for directory in RECORD_DIRS:
        path = _record_path(directory, secret_uuid)
        if os.path.exists(path):
            with open(path) as handle:
                return handle.read()
    return None


def host_state(info):
    """Everything a refused task must leave as it was."""
    tokens = info["tokens"]
    # one virsh for speed: the value of the non-private secret, the XML of both, then the list of every secret
    proc = subprocess.run(["virsh", "-q", "-c", URI, "secret-get-value %s; secret-dumpxml %s; secret-dumpxml %s; "
                           "secret-list" % (tokens["@OPEN"], tokens["@OPEN"], tokens["@PRIV"])],
                          capture_output=True, text=True, check=False, timeout=60)
    head, dummy, listing = proc.stdout.rpartition("</secret>")
    # the daemon is shared: the secrets of this test (by uuid or usage), and any without usage (which only a
    # buggy define by uuid could have made)
    ours = sorted((secret_uuid, usage) for secret_uuid, usage in _secret_list(listing)
                  if secret_uuid in info["uuids"] or info["prefix"] in usage
                  or usage.split(" ", 1)[0] not in USAGE_TYPES)
    return {
        "secrets": ours, "value and xml": head, "virsh errors": proc.stderr,
        "records": dict((secret_uuid, _record(secret_uuid)) for secret_uuid in info["uuids"]),
    }


def assert_unchanged(before, after):
    """The host state ``after`` a task is ``before``; the message shows what differs."""
    changed = dict((key, (before.get(key), after.get(key))) for key in sorted(set(before) | set(after))
                   if before.get(key) != after.get(key))
    assert not changed, "the host changed (before, after): %r" % changed


def _forms(data):
    """A value's spellings that must never be shown: itself (when text), base64 and hex."""
    forms = {base64.b64encode(data).decode("ascii"), data.hex(), data.hex().upper()}
    try:
        forms.add(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    return forms


def _texts(value):
    """The strings in a value as typed: itself, or the keys and items of a list or dict (a value given as one)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in _texts(key) + _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


def leak_forms(args):
    """Every spelling of the values ``args`` carry: value, value_b64 as typed, and what value_b64 decodes to."""
    forms = set()
    for text in _texts(args.get("value")):
        forms |= _forms(text.encode("utf-8"))
    for text in _texts(args.get("value_b64")):
        if not text.strip():
            continue
        forms |= _forms(text.encode("utf-8"))
        try:  # leniently: what a careless decoder would have made of it
            forms |= _forms(base64.b64decode("".join(text.split()) + "==="))
        except (binascii.Error, ValueError):
            pass
    return set(form for form in forms if form.strip())


def assert_no_leak(result, args, info):
    """No value of ``args`` in any spelling in the result or on stderr."""
    texts = [json.dumps(result), result["_stderr"]]
    # the random prefix and uuids are hex: take them out so that short forms ('abc') cannot match them by chance
    benign = [info["prefix"]] + info["uuids"]
    for index, text in enumerate(texts):
        for token in benign:
            text = text.replace(token, "<token>")
        texts[index] = text
    for form in leak_forms(args):
        for text in texts:
            assert form not in text, "value form %r shown in %r" % (form, text)


# ---------------------------------------------------------------- the cases

def _new(usage_type="ceph", usage_id="@Pnew", **extra):
    """A secret that does not exist yet."""
    return dict(dict(usage_type=usage_type, usage_id=usage_id), **extra)


def _open(**extra):
    """The existing non-private ceph secret (with a value)."""
    return dict(dict(usage_type="ceph", usage_id="@OPEN_ID"), **extra)


def _private(**extra):
    """The existing private iscsi secret (with a value)."""
    return dict(dict(usage_type="iscsi", usage_id="@PRIV_ID"), **extra)


BOTH = "mutually exclusive"
TOGETHER = "required together"
NOT_B64 = "is not valid base64"
EMPTY_B64 = "decodes to nothing"

# (id, module, args, parameters named in msg (the first one returned as 'param' when ours), fragment, ours)
# '@...' tokens are replaced by the test's prefix, secrets and values (see env).
CASES = [
    # the value
    ("value-and-value-b64-new", SECRET, _new(value="@VALUE", value_b64="@B64VALUE"), ("value", "value_b64"),
     BOTH, False),
    ("value-and-value-b64-existing", SECRET, _open(value="@VALUE", value_b64="@B64VALUE"), ("value", "value_b64"),
     BOTH, False),
    ("value-b64-percent", SECRET, _new(value_b64="%%%notbase64"), ("value_b64",), NOT_B64, True),
    ("value-b64-bad-padding", SECRET, _new(value_b64="abc"), ("value_b64",), NOT_B64, True),
    ("value-b64-dollar", SECRET, _new(value_b64="YWJj$"), ("value_b64",), NOT_B64, True),
    ("value-b64-dollar-existing", SECRET, _open(value_b64="YWJj$", update_value="always"), ("value_b64",),
     NOT_B64, True),
    ("value-b64-bad-padding-private", SECRET, _private(value_b64="abc", update_value="always"), ("value_b64",),
     NOT_B64, True),
    ("value-empty-new", SECRET, _new(value=""), ("value",), "must not be empty", True),
    ("value-empty-existing", SECRET, _open(value=""), ("value",), "must not be empty", True),
    ("value-b64-empty", SECRET, _new(value_b64=""), ("value_b64",), EMPTY_B64, True),
    ("value-b64-padding-only", SECRET, _new(value_b64="===="), ("value_b64",), None, True),
    ("value-b64-blank", SECRET, _new(value_b64=" \n\t "), ("value_b64",), EMPTY_B64, True),
    # the usage
    ("usage-type-rbd", SECRET, _new("rbd", value="@VALUE"), ("usage_type",), "must be one of", False),
    ("usage-type-passphrase", SECRET, _new("passphrase", "/var/lib/@Pa.img", value_b64="@B64VALUE"),
     ("usage_type",), "must be one of", False),
    ("usage-type-without-usage-id", SECRET, dict(usage_type="ceph", value="@VALUE"), ("usage_id", "usage_type"),
     TOGETHER, False),
    ("usage-id-without-usage-type", SECRET, dict(usage_id="@Pnew", value="@VALUE"), ("usage_type", "usage_id"),
     TOGETHER, False),
    ("usage-id-without-usage-type-with-uuid", SECRET, dict(uuid="@NEW", usage_id="@Pnew"),
     ("usage_type", "usage_id"), TOGETHER, False),
    ("neither-uuid-nor-usage", SECRET, dict(value="@VALUE"), ("uuid", "usage_type"), "one of the following is",
     False),
    ("usage-id-empty", SECRET, _new(usage_id="", value="@VALUE"), ("usage_id",), "required with usage_type ceph",
     True),
    ("usage-id-blank", SECRET, _new("iscsi", "   ", value="@VALUE"), ("usage_id",),
     "required with usage_type iscsi", True),
    ("volume-usage-relative-path", SECRET, _new("volume", "images/a.img", value="@VALUE"), ("usage_id",),
     "absolute path", True),
    ("ceph-usage-with-slash", SECRET, _new("ceph", "@Pclient/libvirt", value_b64="@B64VALUE"), ("usage_id",),
     "cannot contain '/'", True),
    ("usage-id-newline", SECRET, _new("ceph", "@Pa\nb", value="@VALUE"), ("usage_id",), "must be one line", True),
    ("volume-usage-newline", SECRET, _new("volume", "/var/lib/@Pa\n.img", value="@VALUE"), ("usage_id",),
     "must be one line", True),
    # the uuid
    ("uuid-not-a-uuid", SECRET, dict(uuid="not-a-uuid", value="@VALUE"), ("uuid",), "'not-a-uuid' is not a UUID",
     True),
    ("uuid-1234", SECRET, _new(uuid="1234", value="@VALUE"), ("uuid",), "'1234' is not a UUID", True),
    ("uuid-alone-missing-secret", SECRET, dict(uuid="@NEW", value="@VALUE"), ("usage_type",),
     "required to define secret @NEW", True),
    ("uuid-alone-missing-secret-no-value", SECRET, dict(uuid="@NEW"), ("usage_type",), "required to define", True),
    ("new-uuid-usage-of-another", SECRET, _open(uuid="@NEW", value="@VALUE"), ("uuid",),
     "usage ceph @OPEN_ID belongs to secret @OPEN, not to @NEW", True),
    ("existing-uuid-usage-of-another", SECRET, _open(uuid="@PRIV", value_b64="@B64VALUE"), ("uuid",),
     "usage ceph @OPEN_ID belongs to secret @OPEN, not to @PRIV", True),
    # the other options
    ("update-value-sometimes", SECRET, _open(value="@VALUE", update_value="sometimes"), ("update_value",),
     "must be one of", False),
    ("state-gone", SECRET, _open(state="gone"), ("state",), "must be one of", False),
    ("private-maybe", SECRET, _new(private="maybe", value="@VALUE"), ("private",), "not a valid boolean", False),
    ("ephemeral-sometimes", SECRET, _open(ephemeral="sometimes"), ("ephemeral",), "not a valid boolean", False),
    ("private-to-non-private-without-value", SECRET, _private(private=False), ("private",),
     "must be re-created", True),
    ("private-to-non-private-by-uuid-without-value", SECRET, dict(uuid="@PRIV", private=False), ("private",),
     "nothing was changed", True),
    ("allow-in-use-not-bool", SECRET, _open(state="absent", allow_in_use="maybe"), ("allow_in_use",),
     "not a valid boolean", False),
    ("unknown-option", SECRET, _open(value="@VALUE", passphrase="x"), ("passphrase",), "Unsupported parameters",
     False),
    ("uri-nonexistent-new", SECRET, _new(value="@VALUE", uri="qemu:///nonexistent-xyz"), ("uri",),
     "cannot connect to libvirt at uri qemu:///nonexistent-xyz", True),
    ("uri-nonexistent-absent", SECRET, _open(state="absent", uri="qemu:///nonexistent-xyz"), ("uri",),
     "qemu:///nonexistent-xyz", True),
    # lists and dicts where a string belongs (AnsibleModule would turn them into their repr, and a value's repr
    # would become the secret)
    ("value-list-new", SECRET, _new(value=["@VALUE", "@VALUE"]), ("value",), "a string, not a list", True),
    ("value-dict-existing", SECRET, _open(value={"@VALUE": "@VALUE"}, update_value="always"), ("value",),
     "a string, not a dict", True),
    ("value-b64-list", SECRET, _new(value_b64=["@B64VALUE"]), ("value_b64",), "a string, not a list", True),
    ("usage-id-list", SECRET, _new(usage_id=["@Pnew"], value="@VALUE"), ("usage_id",), "a string, not a list", True),
    ("usage-id-dict-absent", SECRET, dict(usage_type="ceph", usage_id={"@OPEN_ID": 1}, state="absent"),
     ("usage_id",), "a string, not a dict", True),
    ("uuid-list", SECRET, dict(uuid=["@NEW"], usage_type="ceph", usage_id="@Pnew", value="@VALUE"), ("uuid",),
     "a string, not a list", True),
    ("description-list", SECRET, _new(description=["a", "b"], value="@VALUE"), ("description",),
     "a string, not a list", True),
    ("description-dict-existing", SECRET, _open(description={"a": "b"}), ("description",), "a string, not a dict",
     True),
    ("uri-list", SECRET, _new(value="@VALUE", uri=["qemu:///system"]), ("uri",), "a string, not a list", True),
    ("description-control-character", SECRET, _new(description="a\x07b", value="@VALUE"), ("description",),
     "must not contain control characters", True),
    ("info-usage-id-list", INFO, dict(usage_type="ceph", usage_id=["@OPEN_ID"]), ("usage_id",),
     "a string, not a list", True),
    ("info-uuid-dict", INFO, dict(uuid={"@OPEN": 1}), ("uuid",), "a string, not a dict", True),
    # storage_secret_info
    ("info-uuid-not-a-uuid", INFO, dict(uuid="not-a-uuid"), ("uuid",), "is not a UUID", True),
    ("info-uuid-1234", INFO, dict(uuid="1234"), ("uuid",), "'1234' is not a UUID", True),
    ("info-usage-type-without-usage-id", INFO, dict(usage_type="ceph"), ("usage_id", "usage_type"), TOGETHER,
     False),
    ("info-usage-id-without-usage-type", INFO, dict(usage_id="@OPEN_ID"), ("usage_type", "usage_id"), TOGETHER,
     False),
    ("info-usage-id-empty", INFO, dict(usage_type="ceph", usage_id=""), ("usage_id",), "required with usage_type",
     True),
    ("info-usage-type-unknown", INFO, dict(usage_type="rbd", usage_id="@OPEN_ID"), ("usage_type",),
     "must be one of", False),
    ("info-uri-nonexistent", INFO, dict(uri="qemu:///nonexistent-xyz"), ("uri",), "cannot connect to libvirt", True),
]


def test_enough_cases():
    assert len(CASES) >= 40
    assert len(set(c[0] for c in CASES)) == len(CASES)
    assert all(len(c) == 6 and c[1] in (SECRET, INFO) and isinstance(c[3], tuple) for c in CASES)


PARAMS = []
for _case in CASES:
    PARAMS.append(pytest.param(_case, False, id=_case[0]))
    PARAMS.append(pytest.param(_case, True, id=_case[0] + "-check"))


@pytest.mark.parametrize("case, check", PARAMS)
def test_bad_input(case, check, env):
    dummy, module, args, params, fragment, ours = case
    args = substitute(args, env["tokens"])
    fragment = substitute(fragment, env["tokens"])
    before = env["baseline"]  # taken just now: the secrets are made for each test
    result = run_module(module, args, check=check)
    after = host_state(env)
    assert_refused(result, params[0], fragment, ours)
    for param in params[1:]:
        assert param in result["msg"], (param, result["msg"])
    assert_no_leak(result, args, env)
    assert_unchanged(before, after)


@pytest.mark.parametrize("value_b64", ["YWJj$", "abc", "%%%notbase64"])
def test_bad_value_b64_creates_nothing(value_b64, env):
    """A new secret with a bad value_b64: refused in check mode and for real, and no secret of that usage after."""
    usage_id = env["prefix"] + "fresh"
    args = {"usage_type": "ceph", "usage_id": usage_id, "value_b64": value_b64, "description": "never defined"}
    for check in (True, False):
        result = run_module(SECRET, args, check=check)
        assert_refused(result, "value_b64", NOT_B64)
        assert_no_leak(result, args, env)
    assert not [row for row in _secret_list() if usage_id in row[1]], _secret_list()
    assert virsh("secret-list").count(env["prefix"]) == 2  # the two secrets of env, nothing else
    found = run_module(INFO, {"usage_type": "ceph", "usage_id": usage_id})
    assert not found.get("failed"), found
    assert found["exists"] is False and found["secrets"] == [], found
    assert_unchanged(env["baseline"], host_state(env))

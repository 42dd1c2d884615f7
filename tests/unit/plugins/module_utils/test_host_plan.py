"""storage_host's plan: which declared objects an object needs, so that check mode waits for what the run makes."""

from types import SimpleNamespace

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.host import KINDS, made, needs


def declared(kind, **params):
    return SimpleNamespace(kind=KINDS[kind], params=params, id=KINDS[kind].identity(params))


@pytest.mark.parametrize("obj, references", [
    (declared("volume", pool="p", name="clone.qcow2", backing_store=dict(name="golden.qcow2", format="qcow2")),
     [("pool", "p"), ("volume", "p/golden.qcow2")]),
    (declared("volume", pool="p", name="copy.img", clone_from=dict(pool="q", name="base.img")),
     [("pool", "p"), ("volume", "q/base.img")]),
    (declared("volume", pool="p", name="secure.qcow2", encryption=dict(secret=dict(usage="/p/secure.qcow2"))),
     [("pool", "p"), ("secret", "/p/secure.qcow2")]),
    (declared("volume", pool="p", name="by-path.qcow2", backing_store=dict(path="/elsewhere/base", format="raw")),
     [("pool", "p")]),
    (declared("disk", domain="g", volume=dict(pool="p", name="v.qcow2")), [("pool", "p"), ("volume", "p/v.qcow2")]),
    (declared("disk", domain="g", path="/images/x.raw"), []),
    (declared("pool", name="iscsi", source=dict(auth=dict(type="chap", username="u", secret=dict(uuid="1234")))),
     [("secret", "1234")]),
    (declared("pool", name="plain", source=None), []),
    (declared("secret", usage_type="ceph", usage_id="client.admin"), []),
])
def test_needs(obj, references):
    assert needs(obj) == references


def test_what_a_secret_is_known_by():
    assert made(declared("secret", uuid="1234", usage_type="volume", usage_id="/p/v")) == [
        ("secret", "1234"), ("secret", "/p/v")]
    assert made(declared("volume", pool="p", name="v")) == [("volume", "p/v")]
    assert made(declared("pool", name="p")) == [("pool", "p")]

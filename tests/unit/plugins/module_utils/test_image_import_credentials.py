"""A password in an import URL is masked (no_log values) and never shown or recorded."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.image_import import ImportSource, hide_credentials


class FakeModule:
    def __init__(self):
        self.no_log_values = set()
        self.tmpdir = "/tmp"


@pytest.mark.parametrize("src, shown", [
    ("https://alice:s3cr%40t-pw@images.example.org/a.qcow2", "https://alice:********@images.example.org/a.qcow2"),
    ("ftp://bob:pw-9f2c@10.0.0.1:2121/img.raw?x=1", "ftp://bob:********@10.0.0.1:2121/img.raw?x=1"),
])
def test_password_in_url_is_hidden_and_masked(src, shown):
    module = FakeModule()
    assert hide_credentials(module, src) == shown
    password = src.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert password in module.no_log_values
    source = ImportSource(module, {"src": src})
    assert source.shown == shown and source.src == src  # the URL fetched keeps its credentials


@pytest.mark.parametrize("src", [
    "https://images.example.org/a.qcow2", "https://alice@images.example.org/a.qcow2", "/var/lib/images/a.img",
])
def test_sources_without_password_are_unchanged(src):
    module = FakeModule()
    assert hide_credentials(module, src) == src
    assert module.no_log_values == set()

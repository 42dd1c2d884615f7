"""Each module loads only the module_utils it uses.

Ansible ships module_utils as source and compiles them again on every task, so a module file that
pulls in another resource's code (or the URL client) pays for it on every task (see bench/).
Each module is imported in a fresh interpreter; what it must not load is listed per module.
"""

import subprocess
import sys

import pytest

PACKAGE = "ansible_collections.virtops.storage.plugins"
URL_CLIENT = "ansible.module_utils.urls"

# what a task of the module never needs at import time: the paths that use these import them when they run
NOT_LOADED = {
    "storage_pool": ("volume", "volume_spec", "volume_xml", "disk_xml", "secret", "secret_xml", "image_import"),
    "storage_pool_info": ("volume", "volume_spec", "volume_xml", "disk_xml", "secret", "secret_xml", "image_import"),
    "storage_secret": ("pool", "pool_spec", "volume", "volume_xml", "disk_xml", "image_import"),
    "storage_secret_info": ("pool", "pool_spec", "volume", "volume_xml", "disk_xml", "image_import"),
    "storage_volume": ("pool", "pool_spec", "secret", "secret_xml"),
    "storage_volume_info": ("pool", "pool_spec", "secret", "secret_xml"),
    "disk_attach": ("pool", "pool_spec", "secret", "secret_xml"),
    "disk_info": ("pool", "pool_spec", "secret", "secret_xml"),
}


def _loaded_after_import(module):
    """The names in sys.modules after importing the module ``module`` in a fresh interpreter."""
    code = "import sys, %s.modules.%s; print('\\n'.join(sys.modules))" % (PACKAGE, module)
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


@pytest.mark.parametrize("module", sorted(NOT_LOADED))
def test_a_module_loads_neither_other_resources_nor_the_url_client(module):
    loaded = _loaded_after_import(module)
    assert "%s.module_utils.connection" % PACKAGE in loaded  # the import really ran
    unused = [name for name in NOT_LOADED[module] if "%s.module_utils.%s" % (PACKAGE, name) in loaded]
    assert unused == [], "%s loads %s" % (module, unused)
    assert URL_CLIENT not in loaded

"""The built docs site (scripts/docs.sh, build/docs/html) as a browser shows it: headless Chromium renders every
module page with its options table (a row for every option the module documents) and the role page with its
entry point options; the guides link to the module pages, and every link between pages of the site resolves."""

import glob
import json
import os
import re
import subprocess
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = os.path.join(REPO, "build", "docs", "html")
PAGES = os.path.join(SITE, "collections", "virtops", "storage")
VENV_BIN = os.path.join(REPO, os.environ.get("VENV", ".venv"), "bin")
MODULES = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py")))
GUIDES = sorted(os.path.basename(path)[:-4] for path in glob.glob(os.path.join(REPO, "docs", "docsite", "rst", "*.rst")))
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """render(path): the DOM headless Chromium builds of a page of the site."""
    assert os.path.exists(os.path.join(SITE, "index.html")), "build the site first: scripts/docs.sh (make docs)"
    profile = str(tmp_path_factory.mktemp("chromium-profile"))

    def render(path):
        proc = subprocess.run(CHROMIUM + ["--user-data-dir=" + profile, "--dump-dom", "file://" + path],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
        return proc.stdout
    return render


def documented_options(plugin, kind="module"):
    """The top-level options ansible-doc knows for ``plugin`` (for a role: of its main entry point)."""
    out = subprocess.run([os.path.join(VENV_BIN, "ansible-doc"), "--json", "-t", kind, "virtops.storage." + plugin],
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "build", "collections"))).stdout
    doc = json.loads(out)["virtops.storage." + plugin]
    if kind == "role":
        return sorted(doc["entry_points"]["main"]["options"])
    return sorted(doc["doc"]["options"])


def local_links(dom, page):
    """The files of this site that the page's <a href> point at (no external links, no anchors within the page)."""
    found = set()
    for href in re.findall(r'<a [^>]*href="([^"]+)"', dom):
        url = urldefrag(urljoin("file://" + page, href))[0]
        if urlparse(url).scheme == "file" and url != "file://" + page:
            found.add(urlparse(url).path)
    return found


@pytest.mark.parametrize("module", MODULES)
def test_a_module_page_renders_its_options_table(browser, module):
    dom = browser(os.path.join(PAGES, module + "_module.html"))
    assert re.search(r'<table class="[^"]*ansible-option-table', dom), module
    for option in documented_options(module):
        assert 'id="parameter-%s"' % option in dom, (module, option)
    assert "virtops.storage.%s" % module in dom


def test_the_role_page_renders_its_entry_point_options(browser):
    dom = browser(os.path.join(PAGES, "hypervisor_storage_role.html"))
    for option in documented_options("hypervisor_storage", kind="role"):
        assert option in dom, option


def test_the_guides_link_to_the_module_pages(browser):
    assert len(GUIDES) >= 7, GUIDES
    linked = set()
    for guide in GUIDES:
        page = os.path.join(PAGES, "docsite", guide + ".html")
        links = local_links(browser(page), page)
        for path in links:
            assert os.path.exists(path), (guide, path)
        modules = set(os.path.basename(path) for path in links
                      if path.endswith("_module.html") and os.path.dirname(path) == PAGES)  # not index_module.html
        assert modules, "guide %s links to no module page" % guide
        linked |= modules
    assert linked == set(module + "_module.html" for module in MODULES), sorted(linked)


def test_every_link_between_pages_resolves(browser):
    index = os.path.join(SITE, "index.html")
    for path in [index, os.path.join(PAGES, "index.html")]:
        for target in local_links(browser(path), path):
            assert os.path.exists(target), (path, target)

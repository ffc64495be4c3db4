"""The documentation site builds without a pandoc warning, and every page works in a browser.

``docs/build.py`` renders the site with Debian's ``pandoc``; then headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by selenium) loads every page and fails on a broken
link or anchor between pages, an image that does not load, a diagram left as text, a shortcode
left unexpanded, or a page the navigation does not reach. Outside CI a missing tool skips with
the command that installs it; in CI (``.ci/run`` installs them) it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "docs" / "_site"
# What a page reports about itself, read in the browser after it loaded.
PAGE_FACTS = """
const code = [...document.querySelectorAll('pre, code')];
return {
  title: (document.querySelector('h1.title') || {}).textContent || '',
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  sidebar: [...document.querySelectorAll('nav.sidebar a[href]')].map(a => a.href),
  images: [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0]),
  diagram_blocks: code.filter(e => /(^|\\s)(mermaid|dot|graphviz|plantuml)(\\s|$)/
                                   .test(e.className)).length,
  diagram_text: code.map(e => e.textContent.trim())
                    .filter(t => /^(digraph|graph (TD|LR)|flowchart|sequenceDiagram)\\b/.test(t))
                    .length,
  leftovers: document.body.innerText.includes('{{<') ? 1 : 0,
};
"""


def require_tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed: apt-get install {package}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def site() -> Path:
    require_tool("pandoc", "pandoc")
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(REPO / "docs" / "build.py")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"docs/build.py failed:\n{done.stdout}\n{done.stderr}"
    print(f"site built in {time.monotonic() - started:.1f} s")
    return SITE


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = require_tool("chromium", "chromium")
    driver_path = require_tool("chromedriver", "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--allow-file-access-from-files"):
        options.add_argument(flag)
    # The given driver: selenium must not look for (or download) one of its own.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def local_path(url: str) -> tuple[Path, str] | None:
    """The file and fragment a ``file://`` URL names; None for other schemes."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    return Path(unquote(parts.path)), parts.fragment


def test_every_page_loads_with_working_links_images_and_diagrams(site: Path,
                                                                   browser: Any) -> None:
    started = time.monotonic()
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 40, f"only {len(pages)} pages rendered"
    facts = {}
    for page in pages:
        browser.get(page.as_uri())
        facts[page] = browser.execute_script(PAGE_FACTS)
    problems = []
    for page, found in facts.items():
        name = page.relative_to(site)
        if not found["title"].strip():
            problems.append(f"{name}: no title")
        for src, loaded in found["images"]:
            if not loaded:
                problems.append(f"{name}: image {src} did not load")
        if found["diagram_blocks"] or found["diagram_text"]:
            problems.append(f"{name}: a diagram is left as text; draw it as an SVG file")
        if found["leftovers"]:
            problems.append(f"{name}: an unexpanded shortcode ({{{{< ... >}}}})")
        for url in found["links"]:
            target = local_path(url)
            if target is None:
                continue
            path, fragment = target
            if not path.exists():
                problems.append(f"{name}: broken link to {path.relative_to(site.parent)}")
            elif fragment and path.suffix == ".html" and fragment not in facts[path]["ids"]:
                problems.append(f"{name}: {path.relative_to(site)} has no #{fragment}")
    reached = {local_path(url)[0] for url in facts[site / "index.html"]["sidebar"]}
    for page in pages:
        if page not in reached:
            problems.append(f"{page.relative_to(site)}: not in the navigation (_quarto.yml)")
    assert not problems, "\n".join(problems)
    print(f"{len(pages)} pages checked in {time.monotonic() - started:.1f} s")


def test_the_configuration_reference_describes_every_option() -> None:
    # Arguments documented together ("host, port, db: ...") and the stores' and bundles'
    # options (documented once, on their engine's task queue) had empty rows.
    sys.path.insert(0, str(REPO / "docs"))
    try:
        from _build.configuration import reference
    finally:
        sys.path.remove(str(REPO / "docs"))
    text = reference()
    rows = [line for line in text.splitlines() if line.startswith("| `")
            and "#options" not in line]
    assert rows and not [row for row in rows if row.rstrip().endswith("|  |")]
    assert "| `db` | `None` | The same, as separate keywords (they override the URL's " \
           "parts). |" in text

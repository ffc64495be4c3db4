"""Build the documentation site: ``python docs/build.py`` writes ``docs/_site/``.

The sources are a Quarto website (``_quarto.yml``, ``*.qmd``), so ``quarto render`` works on
them too (``_quarto.yml`` runs ``build.py --generate`` before rendering). This script is what
CI uses, because Quarto cannot be installed from the registries the project reaches: it needs
only the standard library, ``omniq`` (which brings PyYAML) and Debian's ``pandoc``.

1. Generates what must not drift from the code (``--generate`` stops here):
   ``api/*.qmd`` from the docstrings of the public modules (:mod:`docs._build.api`) and
   ``_generated/configuration.md`` from the settings definitions
   (:mod:`docs._build.configuration`). Both are gitignored.
2. Renders every page with pandoc into ``_site/``: the navigation of ``_quarto.yml``, one HTML
   template and stylesheet, ``.qmd`` links turned into ``.html``, Quarto's
   ``{{< include file >}}`` shortcode expanded. Any pandoc warning fails the build.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DOCS = Path(__file__).resolve().parent
SITE = DOCS / "_site"
BUILD = DOCS / "_build"
sys.path.insert(0, str(DOCS))

from _build import api, configuration  # noqa: E402

#: Navigation entries whose page another branch is still writing: the build leaves them out of
#: the navigation (saying so) instead of failing. Empty this set once they have landed.
PENDING: set[str] = set()

_INCLUDE = re.compile(r"^\{\{<\s*include\s+(\S+)\s*>\}\}\s*$", re.M)
_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def generate() -> list[Path]:
    """Write the generated pages; returns their paths."""
    written = api.write_pages(DOCS / "api")
    written.append(configuration.write(DOCS / "_generated" / "configuration.md"))
    return written


def pages() -> list[Path]:
    """Every page of the site: ``*.qmd`` outside folders starting with ``_`` or ``.``."""
    found = []
    for path in sorted(DOCS.rglob("*.qmd")):
        parts = path.relative_to(DOCS).parts
        if not any(p.startswith(("_", ".")) for p in parts):
            found.append(path)
    return found


def front_matter(text: str) -> dict[str, Any]:
    match = _FRONT.match(text)
    data = yaml.safe_load(match[1]) if match else None
    return data if isinstance(data, dict) else {}


def expand_includes(text: str, page: Path) -> str:
    """Quarto's ``{{< include path >}}``: the file's text in place, relative to the page."""

    def include(match: re.Match[str]) -> str:
        path = (page.parent / match[1]).resolve()
        if not path.is_file():
            raise SystemExit(f"{page.relative_to(DOCS)}: include {match[1]} not found")
        return expand_includes(path.read_text(), path)

    return _INCLUDE.sub(include, text)


class Site:
    """The navigation of ``_quarto.yml`` and the titles of all pages."""

    def __init__(self) -> None:
        self.config = yaml.safe_load((DOCS / "_quarto.yml").read_text())
        website = self.config["website"]
        self.title = website["title"]
        self.titles = {p.relative_to(DOCS).as_posix(): front_matter(p.read_text()).get("title")
                       for p in pages()}
        for name, title in self.titles.items():
            if not title:
                raise SystemExit(f"{name}: no title in its YAML header (---\\ntitle: ...\\n---)")
        self.missing: list[str] = []
        self.navbar = website["navbar"]["left"]
        self.sidebar = website["sidebar"]["contents"]
        for href in self._hrefs(self.navbar + self.sidebar):
            if href not in self.titles:
                if href not in PENDING:
                    raise SystemExit(f"_quarto.yml names {href}, which does not exist")
                self.missing.append(href)

    def _hrefs(self, entries: list[Any]) -> Iterator[str]:
        for entry in entries:
            if isinstance(entry, str):
                yield entry
            else:
                if entry.get("href"):
                    yield entry["href"]
                yield from self._hrefs(entry.get("contents", []))

    def link(self, href: str, page: str) -> str:
        target = href[: -len(".qmd")] + ".html"
        return os.path.relpath(target, os.path.dirname(page) or ".")

    def navbar_html(self, page: str) -> str:
        items = []
        for entry in self.navbar:
            href = entry["href"]
            current = ' class="active"' if _section(href) == _section(page) else ""
            items.append(f'<li><a{current} href="{self.link(href, page)}">'
                         f'{html.escape(entry["text"])}</a></li>')
        return "\n".join(items)

    def sidebar_html(self, page: str, entries: list[Any] | None = None) -> str:
        items = []
        for entry in self.sidebar if entries is None else entries:
            if isinstance(entry, str):
                entry = {"href": entry}
            href = entry.get("href")
            if href in self.missing:
                continue
            label = html.escape(entry.get("text") or entry.get("section")
                                or self.titles[href])
            if href:
                current = ' class="active"' if href == page else ""
                label = f'<a{current} href="{self.link(href, page)}">{label}</a>'
            if "contents" in entry:
                inner = self.sidebar_html(page, entry["contents"])
                items.append(f'<li class="section"><span>{label}</span><ul>{inner}</ul></li>')
            else:
                items.append(f"<li>{label}</li>")
        return "\n".join(items)


def _section(href: str) -> str:
    return href.split("/", 1)[0] if "/" in href else href


def render(site: Site, page: Path, template: str) -> None:
    name = page.relative_to(DOCS).as_posix()
    text = expand_includes(page.read_text(), page)
    done = subprocess.run(
        ["pandoc", "--from", "markdown", "--to", "html5", "--fail-if-warnings",
         "--standalone", "--template", str(BUILD / "fragment.html"),
         "--lua-filter", str(BUILD / "site.lua"), "--toc", "--toc-depth=3",
         "--highlight-style", "pygments", "--resource-path", str(page.parent)],
        input=text, capture_output=True, text=True, cwd=page.parent,
    )
    if done.returncode != 0 or done.stderr.strip():
        raise SystemExit(f"pandoc failed on {name}:\n{done.stderr}")
    css, toc, body = done.stdout.split("<!--SPLIT-->")
    highlight = SITE / "highlight.css"
    if css.strip() and not highlight.exists():  # the same on every page that has code
        highlight.write_text(re.sub(r"</?style[^>]*>", "", css).strip() + "\n")
    root = os.path.relpath(".", os.path.dirname(name) or ".")
    out = SITE / (name[: -len(".qmd")] + ".html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(template
                   .replace("$site_title$", html.escape(site.title))
                   .replace("$title$", html.escape(site.titles[name]))
                   .replace("$root$", root)
                   .replace("$navbar$", site.navbar_html(name))
                   .replace("$sidebar$", site.sidebar_html(name))
                   .replace("$toc$", toc.strip())
                   .replace("$body$", body))


def build() -> float:
    """Generate, then render the whole site; returns the seconds it took."""
    started = time.monotonic()
    if shutil.which("pandoc") is None:
        raise SystemExit("pandoc is not installed: apt-get install pandoc (Debian's package)")
    generate()
    site = Site()
    if SITE.exists():
        shutil.rmtree(SITE)
    SITE.mkdir()
    for folder in ("images", "styles"):
        shutil.copytree(DOCS / folder, SITE / folder)
    template = (BUILD / "page.html").read_text()
    for page in pages():
        render(site, page, template)
    for href in site.missing:
        print(f"build: {href} is not written yet; left out of the navigation", file=sys.stderr)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--generate", action="store_true",
                        help="only write the generated pages (what quarto's pre-render runs)")
    args = parser.parse_args()
    if args.generate:
        for path in generate():
            print(f"wrote {path.relative_to(DOCS)}")
        return
    seconds = build()
    print(f"built {SITE.relative_to(DOCS.parent)} in {seconds:.1f} s")


if __name__ == "__main__":
    main()

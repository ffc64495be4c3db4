"""Every Python block in ``docs/`` runs as written, unless the line before it says why not
(``<!-- not run: reason -->``): a block that needs a host of the reader's, or is run by another
test, says so, and a block that drifts from the code fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"(?:^<!-- not run: (?P<why>[^>]*) -->\n)?^```python\n(?P<code>.*?)^```",
                    re.M | re.S)


def _blocks() -> list[tuple[str, str, str | None]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code"))
            found.append((f"{page.name}:{line}", match["code"], match["why"]))
    return found


@pytest.mark.parametrize(("where", "code", "why"), _blocks(), ids=[b[0] for b in _blocks()])
def test_docs_block_runs(where: str, code: str, why: str | None, tmp_path: Path) -> None:
    if why is not None:
        pytest.skip(f"{where}: not run: {why}")
    env = {**os.environ, "OMNIQ_SECRET_KEY": "docs-examples", "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == 0, f"{where} failed:\n{done.stderr[-3000:]}"

"""Every example folder has a README with a command to run it, a CI test, and a line in README.md's Examples list."""

from __future__ import annotations

import re

from .support import EXAMPLES, ROOT


def test_every_example_is_documented_tested_and_listed() -> None:
    folders = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    assert folders, "no examples/ folders"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    examples_section = readme.split("## Examples", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"\]\(examples/([\w-]+)/\)", examples_section)
    assert set(listed) <= {p.name for p in folders}, f"README's Examples list names a missing folder: {listed}"
    for folder in folders:
        own = (folder / "README.md").read_text(encoding="utf-8")
        assert "```bash" in own, f"{folder.name}/README.md shows no command to run it"
        assert (ROOT / "tests" / "examples" / f"test_{folder.name}.py").is_file(), f"{folder.name}: no CI test"
        assert folder.name in listed, f"{folder.name} is missing from README.md's Examples list"

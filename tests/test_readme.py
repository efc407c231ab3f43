"""The README's Python examples run as written, and its links and those of docs/ lead to files that exist.

Every ```python block of README.md runs on its own, in a fresh Python process (a fresh namespace: each
block carries its own imports, so a reader can copy any one of them), with the repository root as the
working directory and first on the import path, and the MINITL_* environment variables passed through.
A block that reads the MNIST test set or the ResNet-20 checkpoint is skipped, saying which variable to
set, when the file is not in $MINITL_DATA_DIR or $MINITL_WEIGHTS_DIR, so that no test downloads.
Blocks in other languages (bash, text, plain ```) are not run.
"""
import os
import pathlib
import re
import subprocess
import sys

import pytest

from local_files import MNIST_SKIP, WEIGHTS_SKIP, checkpoint_path, mnist_dir

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TIMEOUT_S = 60  # each block takes about a second; the limit only stops a hung one

# What a block needs, recognised by what it calls: (text in the block, is the file at hand?, skip reason).
NEEDS = [
    ("MNIST(", lambda: mnist_dir() is not None, MNIST_SKIP),
    ('weights="cifar10"', lambda: checkpoint_path() is not None, WEIGHTS_SKIP),
]


def python_blocks(path):
    """[(line number of the opening fence, code)] for every ```python block of a Markdown file."""
    blocks, lines = [], path.read_text(encoding="utf-8").split("\n")
    start = None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == "```python":
            start = number
        elif start is not None and line.strip() == "```":
            blocks.append((start, "\n".join(lines[start:number - 1]) + "\n"))
            start = None
    assert start is None, f"{path.name}: the ```python block opened at line {start} is never closed"
    return blocks


BLOCKS = python_blocks(README)


def test_readme_has_python_blocks_and_stays_short():
    assert len(BLOCKS) >= 4, "README.md lost its examples"
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300, "README.md is a guide of at most 300 lines"


@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_python_block_runs(line, code):
    for marker, available, reason in NEEDS:
        if marker in code and not available():
            pytest.skip(f"README.md:{line}: {reason}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("MPLBACKEND", "Agg")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    assert result.returncode == 0, (f"the ```python block at README.md:{line} failed (exit {result.returncode}):\n"
                                    f"{result.stdout}\n{result.stderr}")


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", [README] + sorted((ROOT / "docs").rglob("*.md")),
                         ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_lead_to_files(page):
    missing = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # web addresses and anchors within the page
        path = target.split("#")[0]
        if not (page.parent / path).exists():
            missing.append(target)
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"

"""The examples of README.md and docs/*.md run as written: every one is run here, or says why not.

A fenced block is an example when it is ```sh / ```bash / ```console / ```toml, or when its
first line is a shell prompt (`$ `). The line right before it (blank lines aside) is an HTML
comment that says what it is — invisible on GitHub, read here:

    <!-- runnable -->                 sh: run by bash (-eu -o pipefail) in a scratch copy of the
                                      repository, with .venv/bin first on PATH; must exit 0
    <!-- runnable: config -->         toml: saved as a file, `logmetrics check --config FILE` exits 0
    <!-- runnable: parser -->         toml: saved as DIR/<app>.toml, `logmetrics check --parsers DIR` exits 0
    <!-- output -->                   the first line is `$ COMMAND`; the rest is what COMMAND prints
    <!-- output: COMMAND -->          the whole block is what COMMAND prints
    <!-- not runnable: REASON -->     no test runs it (needs Docker, the network, /var/log, ...), and why

`(needs PATH)` in a marker (a path relative to the repository, e.g. `../shared`) skips the example
where PATH does not exist. In printed output a line `...` (indented or not) stands for any number
of lines; otherwise the text must be what the command prints (stdout, then stderr), line for line.

After an intended change of output: `UPDATE_DOCS=1 .venv/bin/python -m pytest tests/test_docs.py`
rewrites each output block from what its command prints now (keeping its `...` lines where their
neighbours are found again); review the diff like any golden file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from logmetrics.config import Settings
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
UPDATE = os.environ.get("UPDATE_DOCS") == "1"
EXAMPLE_LANGS = {"sh", "bash", "shell", "console", "toml"}
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(runnable|output|not runnable)\b(.*?)-->\s*$")
_NEEDS = re.compile(r"\(needs ([^)]+)\)")
_ELLIPSIS = "..."
# Left out of the scratch copy: caches, the venv (linked instead), history.
_NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
                                     ".hypothesis", "*.egg-info", "bench-data")


@dataclass
class Block:
    """One fenced block of a document, with the marker before it."""

    doc: Path
    ordinal: int  # which fenced block of its document (0-based), stable while documents are edited above it
    line: int  # 1-based line of its opening fence
    lang: str
    body: list[str]
    kind: str | None = None  # runnable | output | not runnable
    arg: str = ""
    needs: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    @property
    def is_example(self) -> bool:
        return self.lang in EXAMPLE_LANGS or bool(self.body and self.body[0].startswith("$ "))


def blocks(doc: Path) -> list[Block]:
    lines = doc.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence, lang = m.groups()
        end = i + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        body = [x.removeprefix(indent) for x in lines[i + 1:end]]
        block = Block(doc, len(out), i + 1, lang.lower(), body)
        before = i - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = _MARKER.match(lines[before]) if before >= 0 else None
        if marker is not None:
            rest = marker.group(2)
            block.needs = _NEEDS.findall(rest)
            block.kind, block.arg = marker.group(1), _NEEDS.sub("", rest).strip().removeprefix(":").strip()
        out.append(block)
        i = end + 1
    return out


ALL = [b for doc in DOCS for b in blocks(doc)]
RUNNABLE = [b for b in ALL if b.kind == "runnable"]
OUTPUTS = [b for b in ALL if b.kind == "output"]


def test_every_example_runs_or_says_why_not() -> None:
    unmarked = [b.name for b in ALL if b.is_example and b.kind is None]
    assert not unmarked, f"examples with no <!-- runnable / output / not runnable: why --> marker: {unmarked}"
    unexplained = [b.name for b in ALL if b.kind == "not runnable" and not b.arg]
    assert not unexplained, f"`not runnable` needs a reason: {unexplained}"
    assert RUNNABLE and OUTPUTS


# -- running ------------------------------------------------------------------------------------


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A copy of the repository (its .venv linked), with `../shared` beside it when the checkout has one."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=_NOT_COPIED, symlinks=True)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    if (ROOT.parent / "shared").exists():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    return repo


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGMETRICS_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _skip_unless_available(block: Block) -> None:
    for need in block.needs:
        if not (ROOT / need).exists():
            pytest.skip(f"{block.name} needs {need}, which is not beside this checkout")


def _sh(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-eu", "-o", "pipefail", "-c", script], cwd=cwd, env=_env(), text=True,
                          capture_output=True, timeout=600, check=False)


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_runnable_example(block: Block, scratch: Path) -> None:
    _skip_unless_available(block)
    text = "\n".join(block.body) + "\n"
    if block.lang == "toml":
        if block.arg == "config":
            (scratch / "example.toml").write_text(text, encoding="utf-8")
            script = "logmetrics check --config example.toml"
        elif block.arg == "parser":
            app = re.search(r'^app\s*=\s*"([^"]+)"', text, re.M)
            assert app is not None, f"{block.name}: a parser definition names its app"
            (scratch / "example-parsers").mkdir()
            (scratch / "example-parsers" / f"{app.group(1)}.toml").write_text(text, encoding="utf-8")
            script = "logmetrics check --parsers example-parsers"
        else:
            raise AssertionError(f"{block.name}: a runnable toml block is `runnable: config` or `runnable: parser`")
    else:
        script = text
    proc = _sh(script, scratch)
    assert proc.returncode == 0, f"{block.name} fails as written:\n{script}\n{proc.stdout}{proc.stderr}"


# -- printed output -----------------------------------------------------------------------------


def _parts(expected: list[str]) -> list[tuple[bool, list[str]]]:
    """The expected lines cut at `...` lines: (True, [the `...` line]) or (False, lines between them)."""
    out: list[tuple[bool, list[str]]] = []
    for line in expected:
        if line.strip() == _ELLIPSIS:
            out.append((True, [line]))
        elif out and not out[-1][0]:
            out[-1][1].append(line)
        else:
            out.append((False, [line]))
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line for line, each `...` any number of lines (doctest's ELLIPSIS, by whole lines)."""
    exp = [x.rstrip() for x in expected]
    act = [x.rstrip() for x in actual]

    def at(i: int, j: int) -> bool:
        if i == len(exp):
            return j == len(act)
        if exp[i].strip() == _ELLIPSIS:
            return any(at(i + 1, k) for k in range(j, len(act) + 1))
        return j < len(act) and exp[i] == act[j] and at(i + 1, j + 1)

    return at(0, 0)


def _key(line: str) -> str:
    """What finds a line again after its numbers changed: its words."""
    return " ".join(re.findall(r"[A-Za-z]+", line))


def regenerate(expected: list[str], actual: list[str]) -> list[str] | None:
    """The expected lines rewritten from `actual`: each part between `...` lines is taken from where its first
    line's words are found again (the first part at the start, unless the block starts with `...`), with as many
    lines as before (the last part, not followed by `...`, runs to the end). None when a part is not found."""
    out: list[str] = []
    parts = _parts(expected)
    pos = 0
    for n, (ellipsis, part) in enumerate(parts):
        if ellipsis:
            out.extend(part)
            continue
        if n > 0:
            key = _key(part[0])
            found = next((j for j in range(pos, len(actual)) if _key(actual[j]) == key), None)
            if found is None:
                return None
            pos = found
        take = actual[pos:] if n == len(parts) - 1 else actual[pos:pos + len(part)]
        out.extend(take)
        pos += len(take)
    return out


def _rewrite(block: Block, new_body: list[str]) -> None:
    """Replace the block's body in its document (found again by its ordinal: earlier rewrites may move it)."""
    text = block.doc.read_text(encoding="utf-8")
    lines = text.splitlines()
    current = blocks(block.doc)[block.ordinal]
    indent = re.match(r"\s*", lines[current.line - 1]).group(0)  # type: ignore[union-attr]
    start, end = current.line, current.line + len(current.body)
    lines[start:end] = [indent + x if x else x for x in new_body]
    block.doc.write_text("\n".join(lines) + ("\n" if text.endswith("\n") else ""), encoding="utf-8")


@pytest.mark.parametrize("block", OUTPUTS, ids=[b.name for b in OUTPUTS])
def test_printed_output_is_what_the_command_prints(block: Block, scratch: Path) -> None:
    _skip_unless_available(block)
    if block.arg:
        command, expected, head = block.arg, block.body, []
    else:
        assert block.body and block.body[0].startswith("$ "), f"{block.name}: first line is `$ COMMAND`"
        command, expected, head = block.body[0][2:], block.body[1:], block.body[:1]
    proc = _sh(command, scratch)
    actual = (proc.stdout + proc.stderr).splitlines()
    if matches(expected, actual):
        return
    if UPDATE:
        new = regenerate(expected, actual)
        assert new is not None, f"{block.name}: cannot place the parts of the block in the new output; edit it by hand"
        _rewrite(block, head + new)
        return
    shown = "\n".join(actual[:60])
    pytest.fail(f"{block.name}: `{command}` prints something else (UPDATE_DOCS=1 rewrites it):\n{shown}")


# -- the settings example -----------------------------------------------------------------------


def test_the_config_example_shows_every_key() -> None:
    """README's TOML example is the reference of the settings: every key, each written as it is read."""
    [example] = [b for b in blocks(ROOT / "README.md") if b.lang == "toml" and b.arg == "config"]
    text = "\n".join(example.body)
    keys = set(re.findall(r"^#?\s*(\w+)\s*=", text, re.M)) | set(re.findall(r"^\[(\w+)\]", text, re.M))
    missing = sorted(set(Settings.model_fields) - keys)
    assert not missing, f"README's config example leaves out {missing}"


# -- the checker's own rules --------------------------------------------------------------------


def test_ellipsis_matching_and_regeneration() -> None:
    out = ["head 1", "", "a 10", "b 20", "x", "y", "tail 3", "end"]
    assert matches(["head 1", "...", "tail 3", "end"], out)
    assert matches(["...", "x", "y", "..."], out)
    assert not matches(["head 1", "...", "tail 3"], out)  # the end must be shown, or `...`
    assert not matches(["head 2", "..."], out)
    new = ["head 2", "", "a 11", "b 21", "c 31", "z", "tail 4", "end"]
    assert regenerate(["head 1", "", "a 10", "  ...", "tail 3", "..."], new) == [
        "head 2", "", "a 11", "  ...", "tail 4", "..."]
    assert regenerate(["...", "tail 3", "end"], new) == ["...", "tail 4", "end"]
    assert regenerate(["head 1", "...", "nowhere 1"], new) is None

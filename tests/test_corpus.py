"""The shared real-line corpus, scored the way ../shared/tools/score_corpus.py scores it (≥ 0.95)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCORER = ROOT.parent / "shared" / "tools" / "score_corpus.py"
CORPUS = ROOT.parent / "shared" / "corpus" / "real-lines.jsonl"


@pytest.mark.skipif(not (SCORER.exists() and CORPUS.exists()), reason="shared corpus not beside this checkout")
def test_real_line_corpus_accuracy(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, str(SCORER), str(CORPUS), "--min", "0.95", "--show", "20"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "real-line accuracy" in proc.stdout

"""The core (metadata, manifest, download, annotate, split, stats, score, build, demo) runs without torch or Ray."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
sys.modules["torch"] = None  # any `import torch` now fails
sys.modules["ray"] = None  # and the distributed extra is not needed either
sys.modules["transformers"] = None
from .cli_runner import CliRunner
from ovavebench.cli import app
import ovavebench.metadata.published, ovavebench.manifest, ovavebench.download, ovavebench.annotate
import ovavebench.split, ovavebench.build.stats, ovavebench.scoring, ovavebench.build.job, ovavebench.build.demo
result = CliRunner().invoke(app, ["score", sys.argv[1], "--benchmark", sys.argv[2], "--json"])
assert result.exit_code == 0, result.output
print("ok")
"""


def test_core_imports_and_scores_without_torch(reference, ovave_ref):
    predictions = reference / "scoring" / "test_exact_0.predictions.json"
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(predictions), str(ovave_ref)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

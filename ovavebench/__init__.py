"""ovavebench: build, annotate, split, score and baseline OV-AVEBench.

Open-Vocabulary Audio-Visual Event Localization (CVPR 2025): 67 VGGSound
classes (46 seen, 21 unseen), 10 one-second segments per video.

The public Python API, for one's own code (a training loop, a notebook, another harness):

>>> import ovavebench
>>> result = ovavebench.score("predictions.json", "path/to/benchmark")  # doctest: +SKIP
>>> result.to_dict()["total"]["avg"]  # what `ovavebench score --json` prints  # doctest: +SKIP
>>> bench = ovavebench.load_benchmark("path/to/benchmark")  # doctest: +SKIP
>>> bench.classes[:2], bench.videos("test")[:2]  # doctest: +SKIP

Names are imported on first use (PEP 562), so ``import ovavebench`` costs almost nothing and scoring needs
numpy and scipy only; the PyTorch side is the separate subpackage ``ovavebench.torch`` (the ``torch`` extra).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .constants import VERSION as __version__

if TYPE_CHECKING:  # what mypy and IDEs see; at run time each name is imported when first used
    from . import torch as torch
    from .benchmark import Benchmark, Labels, MetaRows, load_benchmark
    from .errors import ChecksumError, InputFileError, OvavebenchError
    from .scoring import bootstrap
    from .scoring.compare import CompareResult, PairResult, compare
    from .scoring.core import PerVideo, PredictionsError, ScoreResult, SplitScores, SplitTruth, score, score_arrays
    from .scoring.functional import event_f1, per_video_metrics, segment_accuracy, segment_f1
    from .scoring.table import Table
    from .scoring.uncertainty import Interval, PairedTest, bootstrap_intervals

# public name → the module that defines it (relative to this package)
_EXPORTS: dict[str, str] = {
    # scoring a predictions file or mapping, as `ovavebench score` does
    "score": ".scoring.core",
    "compare": ".scoring.compare",
    "bootstrap": ".scoring",
    # the benchmark
    "load_benchmark": ".benchmark",
    # the metric functions on arrays (what `score` computes with)
    "per_video_metrics": ".scoring.functional",
    "segment_accuracy": ".scoring.functional",
    "segment_f1": ".scoring.functional",
    "event_f1": ".scoring.functional",
    "score_arrays": ".scoring.core",
    "bootstrap_intervals": ".scoring.uncertainty",
    # result and record types
    "Benchmark": ".benchmark",
    "Labels": ".benchmark",
    "MetaRows": ".benchmark",
    "ScoreResult": ".scoring.core",
    "SplitScores": ".scoring.core",
    "PerVideo": ".scoring.core",
    "SplitTruth": ".scoring.core",
    "Table": ".scoring.table",
    "Interval": ".scoring.uncertainty",
    "PairedTest": ".scoring.uncertainty",
    "CompareResult": ".scoring.compare",
    "PairResult": ".scoring.compare",
    # errors: every problem with the user's input is an OvavebenchError with a one-line message
    "OvavebenchError": ".errors",
    "InputFileError": ".errors",
    "PredictionsError": ".scoring.core",
    "ChecksumError": ".errors",
}

# Subpackages reachable as attributes without an explicit import; `torch` needs the torch extra, so it is
# neither imported by `import ovavebench` nor listed in __all__ (a star-import never pulls torch in).
_SUBMODULES = ("torch",)

# Exactly the names above, spelled out so linters and documentation tools read it without running code
# (tests/test_public_api.py checks the two lists agree).
__all__ = [
    "__version__",
    "score",
    "compare",
    "bootstrap",
    "load_benchmark",
    "per_video_metrics",
    "segment_accuracy",
    "segment_f1",
    "event_f1",
    "score_arrays",
    "bootstrap_intervals",
    "Benchmark",
    "Labels",
    "MetaRows",
    "ScoreResult",
    "SplitScores",
    "PerVideo",
    "SplitTruth",
    "Table",
    "Interval",
    "PairedTest",
    "CompareResult",
    "PairResult",
    "OvavebenchError",
    "InputFileError",
    "PredictionsError",
    "ChecksumError",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562) and keep it, so the next lookup is a plain attribute."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names (what tab completion offers), not the helpers of this module."""
    return sorted({*__all__, *_SUBMODULES})

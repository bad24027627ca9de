"""The package's face: what `import ovavebench` offers, lazily, typed, and equal to what the command line prints."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import subprocess
import sys
import tomllib

import numpy as np
import pytest

import ovavebench
from ovavebench.cli import app
from ovavebench.errors import EXTRA_INCLUDES, EXTRA_OF_MODULE, missing_extra

from .cli_runner import CliRunner
from .conftest import REPO
from .helpers import tiny_benchmark, vid

PACKAGE = REPO / "ovavebench"


def test_all_lists_exactly_the_lazy_exports_and_each_resolves():
    assert ovavebench.__all__ == ["__version__", *ovavebench._EXPORTS]
    assert len(set(ovavebench.__all__)) == len(ovavebench.__all__)
    for name in ovavebench.__all__:
        value = getattr(ovavebench, name)
        assert value is not None
        if name != "__version__":
            module = importlib.import_module(ovavebench._EXPORTS[name], "ovavebench")
            assert value is getattr(module, name)
    assert set(ovavebench.__all__) <= set(dir(ovavebench)) and "importlib" not in dir(ovavebench)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ovavebench.nope  # type: ignore[attr-defined]


def test_type_checkers_see_every_export():
    # mypy and IDEs read the TYPE_CHECKING block, not __getattr__: every export must be imported there, from
    # the module __getattr__ takes it from.
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    seen = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        for alias in node.names:
            seen[alias.asname or alias.name] = "." * node.level + (node.module or "")
    assert {n: m for n, m in seen.items() if n != "torch"} == ovavebench._EXPORTS
    assert (PACKAGE / "py.typed").is_file()


def test_import_is_lazy_and_light():
    code = (
        "import sys, ovavebench; "
        "print(sorted(m for m in sys.modules if m.startswith('ovavebench.') and m != 'ovavebench.constants' "
        "or m in ('numpy', 'scipy', 'torch')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # nothing but the package's face until a name is used


def test_version_is_the_installed_metadata():
    assert ovavebench.__version__ == importlib.metadata.version("ovavebench")


def test_score_to_dict_is_what_score_json_prints(reference, ovave_ref):
    case = reference / "scoring" / "test_noisy_1.predictions.json"
    mapping = json.loads(case.read_text())
    from_path = ovavebench.score(case, ovave_ref).to_dict()
    from_mapping = ovavebench.score(mapping, ovave_ref, split="test").to_dict()
    printed = CliRunner().invoke(app, ["score", str(case), "--benchmark", str(ovave_ref), "--json"])
    assert printed.exit_code == 0, printed.output
    assert from_path == from_mapping == json.loads(printed.stdout)


def _videos():
    classes = ["bird chirping", "dog barking", "helicopter"]
    out = []
    for i in range(9):
        name = classes[i % 3]
        split = "train" if i < 3 and name != "helicopter" else "test"
        out.append((vid(i), split, name, name != "helicopter", [int(k >= i % 10) for k in range(10)]))
    return out


@pytest.mark.parametrize("layout", ["published", "toolkit"])
def test_load_benchmark_gives_classes_splits_and_labels_for_both_layouts(tmp_path, layout):
    videos = _videos()
    # published: the files themselves; toolkit: an output folder of `build`/`demo`, with them in benchmark/
    folder = tmp_path / "bench" if layout == "published" else tmp_path / "out"
    tiny_benchmark(folder if layout == "published" else folder / "benchmark", videos)
    bench = ovavebench.load_benchmark(folder)
    assert bench.classes == ["bird chirping", "dog barking", "helicopter"]  # index order; background = 3
    assert bench.seen_classes == ["bird chirping", "dog barking"] and bench.unseen_classes == ["helicopter"]
    assert bench.splits == {
        "train": [v[0] for v in videos if v[1] == "train"],
        "val": [],
        "test": [v[0] for v in videos if v[1] == "test"],
    }
    for video, _, name, seen, flags in videos:
        assert bench.video_class[video] == name and bench.is_seen(video) == seen
        assert bench.class_index(video) == bench.classes.index(name)
        assert bench.segment_labels(video).tolist() == flags
    with pytest.raises(ovavebench.OvavebenchError, match="unknown split 'dev'"):
        bench.videos("dev")


def test_metric_functions_are_what_score_computes(reference, ovave_ref):
    result = ovavebench.score(reference / "scoring" / "test_noisy_1.predictions.json", ovave_ref)
    per_video = result.per_video
    assert per_video is not None
    background = len(per_video.classes)
    args = (per_video.pred, per_video.true_class, per_video.flags, background)
    acc, seg, eve = ovavebench.per_video_metrics(*args)
    np.testing.assert_array_equal(np.stack([acc, seg, eve], 1), per_video.values[:, :3])
    np.testing.assert_array_equal(ovavebench.segment_accuracy(*args), acc)
    np.testing.assert_array_equal(ovavebench.segment_f1(*args), seg)
    np.testing.assert_array_equal(ovavebench.event_f1(*args), eve)
    again = ovavebench.score_arrays(
        per_video.pred, per_video.true_class, per_video.flags, per_video.seen, per_video.classes
    )
    assert again.to_dict() == result.to_dict()
    assert list(result.per_class.columns) == ["class_name", "seen", "videos", "acc", "seg_f1", "eve_f1", "avg"]
    assert len(result.per_class) == 67


def test_extras_named_by_the_error_hints_are_pyproject_s():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(EXTRA_OF_MODULE.values()) <= set(extras)
    for extra, requirements in extras.items():
        included = set()
        for requirement in requirements:
            if requirement.startswith("ovavebench["):
                included |= set(requirement[len("ovavebench[") : requirement.index("]")].split(","))
        assert set(EXTRA_INCLUDES.get(extra, ())) == included, extra
    error = ModuleNotFoundError("No module named 'yt_dlp'", name="yt_dlp")
    assert (
        missing_extra(error) == 'this command needs yt_dlp, which is not installed: pip install "ovavebench[download]"'
    )
    assert "ovavebench[download]" in (missing_extra(ModuleNotFoundError(name="pandas"), "download") or "")
    assert "ovavebench[tables]" in (missing_extra(ModuleNotFoundError(name="pandas"), "") or "")
    assert missing_extra(ModuleNotFoundError(name="not_an_optional_dependency")) is None
    assert missing_extra(ValueError("pandas")) is None


def test_shipped_configs_resolve_by_name_and_a_path_is_still_read(tmp_path):
    from ovavebench.baselines.configs import CONFIG_DIR, config_names, resolve_config

    assert {"zero_shot", "finetune", "finetune_psp", "avllm"} <= set(config_names())
    for name in config_names():
        assert resolve_config(name) == CONFIG_DIR / f"{name}.json" == resolve_config(f"{name}.json")
        json.loads(resolve_config(name).read_text())
    own = tmp_path / "finetune_psp.json"
    own.write_text("{}")
    assert resolve_config(own) == own  # a file of one's own wins over the shipped name
    with pytest.raises(ovavebench.OvavebenchError, match="--config 'nosuch': no such file.*finetune_psp"):
        resolve_config("nosuch")


def test_package_data_is_read_from_inside_the_package():
    from ovavebench.baselines.avllm.prompts import default_prompts_path
    from ovavebench.scoring.results import default_published_path
    from ovavebench.taxonomy import default_classes_path, load_taxonomy

    for path in (default_classes_path(), default_prompts_path(), default_published_path()):
        assert path.is_file() and path.is_relative_to(PACKAGE)
    assert len(load_taxonomy().classes) == 67
    assert (PACKAGE / "annotate" / "assets" / "label_config.xml").is_file()  # test_annotate: equal to label_config()
    assert (PACKAGE / "annotate" / "assets" / "GUIDELINES.md").is_file()

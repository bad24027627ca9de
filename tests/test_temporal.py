"""The six temporal modules of the paper's fine-tuning rows, against fixtures of the released modules."""

from __future__ import annotations

import json

import pytest
import torch

from ovavebench.baselines.temporal import TEMPORAL_NAMES, build_temporal
from ovavebench.errors import OvavebenchError


@pytest.fixture(scope="module")
def fixtures(reference):
    return reference / "temporal"


@pytest.mark.parametrize("name", TEMPORAL_NAMES)
def test_eval_outputs_equal_the_released_modules(fixtures, name):
    io = torch.load(fixtures / f"{name}_io.pt", weights_only=True)
    state = torch.load(fixtures / f"{name}_state_dict.pt", weights_only=True)
    module = build_temporal(name, dim=io["dim"])
    # Keys the released forward never uses hold NaN in the fixture: reading one by mistake would show as NaN.
    module.load_released_state_dict(state)
    module.eval()
    with torch.no_grad():
        for suffix in ("", "_raw"):
            audio, visual = module(io[f"audio{suffix}"], io[f"visual{suffix}"])
            for got, ref in ((audio, io[f"audio{suffix}_out"]), (visual, io[f"visual{suffix}_out"])):
                # The fixture README's rule: max |got - ref| <= 1e-5 * max(1, max |ref|), per output tensor.
                assert got.shape == ref.shape
                assert float((got - ref).abs().max()) <= 1e-5 * max(1.0, float(ref.abs().max()))


@pytest.mark.parametrize("name", TEMPORAL_NAMES)
def test_trainable_parameters_at_1024_equal_the_released_ones(fixtures, name):
    counts = json.loads((fixtures / "fixtures.json").read_text())["modules"][name]
    ours = sum(p.numel() for p in build_temporal(name, dim=1024).parameters() if p.requires_grad)
    assert ours in (counts["registered_params_1024"], counts["used_params_1024"])
    assert ours == counts["used_params_1024"]  # only what the released forward uses is registered


@pytest.mark.parametrize("name", TEMPORAL_NAMES)
def test_every_module_trains_and_is_stochastic_only_where_released(name):
    torch.manual_seed(0)
    module = build_temporal(name, dim=32)
    audio, visual = torch.randn(3, 10, 32), torch.randn(3, 10, 32)
    out_audio, out_visual = module(audio, visual)
    (out_audio.square().mean() + out_visual.square().mean()).backward()
    assert all(p.grad is not None for p in module.parameters())
    module.eval()
    with torch.no_grad():
        first, second = module(audio, visual), module(audio, visual)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))  # eval mode is deterministic


def test_an_unknown_name_or_a_wrong_state_dict_is_one_clear_error(fixtures):
    with pytest.raises(OvavebenchError, match="--temporal must be one of"):
        build_temporal("lstm")
    state = torch.load(fixtures / "ave_state_dict.pt", weights_only=True)
    with pytest.raises(OvavebenchError, match="shape mismatch|lacks"):
        build_temporal("ave", dim=1024).load_released_state_dict(state)  # the fixture is 192-d
    with pytest.raises(OvavebenchError, match="lacks"):
        build_temporal("psp", dim=1024).load_released_state_dict({})

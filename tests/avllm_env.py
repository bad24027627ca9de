"""The audio-visual LLM's own environment for the tests: its processor's video part needs torchvision, which does not
import beside the CPU build of torch the rest of the suite pins, so the AV-LLM test runs the toolkit in a virtualenv
of torch 2.14.1 + torchvision 0.29.1 + transformers (``$OVAVEBENCH_AVLLM_VENV``, default
``~/.cache/ovavebench/test-venvs/avllm-<pins>``: 5.5 GB, installed once per machine, about 4 minutes).

``build_tiny_model`` (run there) makes a tiny random Qwen2.5-Omni thinker from its config class, with its real
processor (tokenizer, image and video processors, Whisper feature extractor, chat template), saved with
``save_pretrained``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PINS = ("torch==2.14.1", "torchvision==0.29.1", "transformers==5.24.0")


def venv_dir() -> Path:
    default = (
        Path.home()
        / ".cache"
        / "ovavebench"
        / "test-venvs"
        / f"avllm-{hashlib.sha256(' '.join(PINS).encode()).hexdigest()[:10]}"
    )
    return Path(os.environ.get("OVAVEBENCH_AVLLM_VENV", default))


def extra_requirements(*extras: str) -> list[str]:
    """The toolkit's core dependencies and those of ``extras`` (their own ``ovavebench[...]`` references followed),
    less the packages ``PINS`` fixes."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional: dict[str, list[str]] = project["optional-dependencies"]
    pinned = {pin.split("==")[0] for pin in PINS}
    found: list[str] = list(project["dependencies"])
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in optional[extra]:
            if requirement.startswith("ovavebench["):
                todo += requirement[len("ovavebench[") : -1].split(",")
            else:
                found.append(requirement)
    name = re.compile(r"^[A-Za-z0-9_.-]+")
    return sorted({r for r in found if (m := name.match(r)) is None or m.group(0) not in pinned})


def ensure_venv() -> Path:
    """The venv's python, installing the pins and the toolkit's dependencies for the AV-LLM row (the ``baselines``
    extra; not the toolkit itself: PYTHONPATH). A change of dependencies installs into the same venv."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    requirements = extra_requirements("baselines")
    marker = venv / f".installed-{hashlib.sha256(' '.join([*PINS, *requirements]).encode()).hexdigest()[:10]}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes: one installs, the other waits
        if not marker.exists():
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", *PINS, *requirements], check=True, timeout=3000
            )
            marker.touch()
    return python


def run(python: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m …`` in the venv with this checkout's toolkit first on the path."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env, timeout=timeout)


BUILD = r"""
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (PreTrainedTokenizerFast, Qwen2_5OmniProcessor, Qwen2_5OmniThinkerConfig,
                          Qwen2_5OmniThinkerForConditionalGeneration, WhisperFeatureExtractor)
from transformers.models.qwen2_vl import Qwen2VLImageProcessor
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

out = Path(sys.argv[1])
classes = sys.argv[2:]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>",
           "<|IMAGE|>", "<|VIDEO|>", "<|vision_bos|>", "<|vision_eos|>", "<|vision_pad|>"]
words = ("system user assistant second event other background audio visual heard seen answer lines "
         "0 1 2 3 4 5 6 7 8 9 : - \n")
tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tokenizer.decoder = decoders.ByteLevel()
tokenizer.train_from_iterator([words + " ".join(classes)] * 20, trainers.BpeTrainer(
    vocab_size=600, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
tok = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                              extra_special_tokens={
    "image_token": "<|IMAGE|>", "audio_token": "<|AUDIO|>", "video_token": "<|VIDEO|>",
    "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>", "audio_eos_token": "<|audio_eos|>"})
# The shape of Qwen2.5-Omni's own template for system/user turns with text, image and audio parts.
template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
            "{% if c['type'] == 'text' %}{{ c['text'] }}"
            "{% elif c['type'] == 'image' %}<|vision_bos|><|IMAGE|><|vision_eos|>"
            "{% elif c['type'] == 'video' %}<|vision_bos|><|VIDEO|><|vision_eos|>"
            "{% elif c['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>{% endif %}{% endfor %}"
            "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
pixels = {"min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 16}
processor = Qwen2_5OmniProcessor(image_processor=Qwen2VLImageProcessor(**pixels),
                                 video_processor=Qwen2VLVideoProcessor(**pixels),
                                 feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok,
                                 chat_template=template)
processor.save_pretrained(out)
ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
config = Qwen2_5OmniThinkerConfig(
    audio_config=dict(num_mel_bins=128, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32, d_model=16,
                      output_dim=32, n_window=50),
    vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                       fullatt_block_indexes=[0]),
    text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                     num_attention_heads=2, num_key_value_heads=1, eos_token_id=ids["<|im_end|>"],
                     pad_token_id=ids["<|endoftext|>"],
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}),
    audio_token_index=ids["<|AUDIO|>"], image_token_index=ids["<|IMAGE|>"], video_token_index=ids["<|VIDEO|>"],
    audio_start_token_id=ids["<|audio_bos|>"], audio_end_token_id=ids["<|audio_eos|>"],
    vision_start_token_id=ids["<|vision_bos|>"], vision_end_token_id=ids["<|vision_eos|>"])
torch.manual_seed(0)
Qwen2_5OmniThinkerForConditionalGeneration(config).save_pretrained(out)
print("ok")
"""


def build_tiny_model(python: Path, out: Path, classes: list[str]) -> Path:
    result = run(python, "-c", BUILD, str(out), *classes)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
    return out

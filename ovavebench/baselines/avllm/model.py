"""Loading an audio-visual LLM through ``transformers`` and asking it about a batch of videos.

The model class comes from the checkpoint's ``model_type`` (:data:`MODEL_CLASSES`: the classes ``transformers``
ships that answer in text from frames and audio), its inputs from the checkpoint's own processor
(``AutoProcessor``). A model with its own code on the Hub (Video-LLaMA2 is one) plugs in with
``trust_remote_code=True``: its processor must take ``text``/``images``/``audio`` and its model must ``generate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...constants import SAMPLE_RATE
from ...errors import OvavebenchError

# model_type → (class name in transformers, what to do after loading)
MODEL_CLASSES: dict[str, tuple[str, str | None]] = {
    "qwen2_5_omni_thinker": ("Qwen2_5OmniThinkerForConditionalGeneration", None),
    "qwen2_5_omni": ("Qwen2_5OmniForConditionalGeneration", "thinker"),  # the talker (speech output) is not needed
    "qwen3_omni_moe_thinker": ("Qwen3OmniMoeThinkerForConditionalGeneration", None),
    "qwen3_omni_moe": ("Qwen3OmniMoeForConditionalGeneration", "thinker"),
}


@dataclass
class AvLlm:
    """A loaded model and its processor, ready to answer."""

    name: str
    processor: Any
    model: Any
    device: str
    dtype: str
    identity: dict[str, Any] = field(default_factory=dict)


def _torch_dtype(dtype: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]


def _weights_sha256(folder: Path) -> str | None:
    """One digest over the checkpoint's weight files (each hashed once, remembered in the toolkit's cache)."""
    import hashlib

    from ...features.checkpoints import checkpoint_sha256

    files = sorted(p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin", ".pt", ".pth"))
    if not files:
        return None
    digest = hashlib.sha256("".join(f"{p.name}:{checkpoint_sha256(p)}\n" for p in files).encode())
    return digest.hexdigest()


def load_avllm(
    name_or_path: str, device: str | None = None, dtype: str | None = None, trust_remote_code: bool = False
) -> AvLlm:
    """The model and processor of a Hub name or a local ``save_pretrained`` folder."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoProcessor

    from ...features.checkpoints import check_device

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    check_device(device)
    dtype = dtype or ("bf16" if device.startswith("cuda") else "fp32")
    if dtype not in ("bf16", "fp16", "fp32"):
        raise OvavebenchError(f"--dtype must be bf16, fp16 or fp32, got {dtype!r}")
    try:
        config = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        processor = AutoProcessor.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise OvavebenchError(
            f"--model {name_or_path}: cannot load its config and processor ({str(exc).splitlines()[0][:200]})"
        ) from None
    model_type = getattr(config, "model_type", "")
    if model_type in MODEL_CLASSES:
        class_name, part = MODEL_CLASSES[model_type]
        model_class = getattr(transformers, class_name)
    elif trust_remote_code:
        from transformers import AutoModelForCausalLM

        model_class, part = AutoModelForCausalLM, None
    else:
        raise OvavebenchError(
            f"--model {name_or_path}: model type {model_type!r} is not an audio-visual LLM this "
            f"toolkit knows ({', '.join(MODEL_CLASSES)}); a model with its own code needs "
            "--trust-remote-code"
        )
    model = model_class.from_pretrained(name_or_path, dtype=_torch_dtype(dtype), trust_remote_code=trust_remote_code)
    if part == "thinker":
        if hasattr(model, "disable_talker"):
            model.disable_talker()
        model = model.thinker
    model = model.to(device).eval()
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is not None:
        tokenizer.padding_side = "left"  # generation continues every prompt of a batch from its end
    local = Path(name_or_path)
    identity = {
        "model": name_or_path,
        "model_type": model_type,
        "class": type(model).__name__,
        "revision": getattr(config, "_commit_hash", None),
        "weights_sha256": _weights_sha256(local) if local.is_dir() else None,
    }
    return AvLlm(name_or_path, processor, model, device, dtype, identity)


def model_inputs(
    llm: AvLlm,
    messages: Sequence[list[dict[str, Any]]],
    images: Sequence[Sequence[Any]],
    audio: Sequence[Sequence[Any]],
) -> Any:
    """The processor's tensors for a batch: each video's chat with its 10 frames and 10 one-second audio arrays."""
    processor = llm.processor
    texts = [processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in messages]
    inputs = processor(
        text=texts,
        images=[i for video in images for i in video],
        audio=[a for video in audio for a in video],
        sampling_rate=SAMPLE_RATE,
        return_tensors="pt",
        padding=True,
    )
    return inputs.to(llm.device)


def answer(
    llm: AvLlm,
    messages: Sequence[list[dict[str, Any]]],
    images: Sequence[Sequence[Any]],
    audio: Sequence[Sequence[Any]],
    max_new_tokens: int,
) -> list[str]:
    """Greedy answers, one per video of the batch (its chat, its 10 frames, its 10 one-second audio arrays)."""
    import torch

    processor = llm.processor
    inputs = model_inputs(llm, messages, images, audio)
    float_type = _torch_dtype(llm.dtype)
    for key, value in inputs.items():  # pixel values and audio features in the model's dtype
        if torch.is_floating_point(value):
            inputs[key] = value.to(float_type)
    with torch.inference_mode():
        output = llm.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    if isinstance(output, tuple):  # models that also return speech
        output = output[0]
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    return [text.strip() for text in processor.batch_decode(new_tokens, skip_special_tokens=True)]

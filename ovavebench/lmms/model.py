"""The lmms-eval model ``ovavebench_avllm``: the AV-LLM row's loading and generation (:mod:`ovavebench.baselines.avllm`)
behind lmms-eval's chat-model interface, so lmms-eval asks the model exactly what ``ovavebench baseline avllm`` asks.

``--model ovavebench_avllm --model_args pretrained=PATH_OR_NAME,device=cpu,dtype=fp32,batch_size=1``; registered
through the ``lmms_eval.models`` entry point (:func:`ovavebench.lmms.model_manifest`) or passed to ``simple_evaluate``
as an object.
"""

from __future__ import annotations

from typing import Any

from lmms_eval.api.model import lmms  # type: ignore[import-not-found, unused-ignore]
from lmms_eval.api.registry import register_model  # type: ignore[import-not-found, unused-ignore]

from ..baselines.avllm import answer, load_avllm
from ..errors import OvavebenchError


def _hf_messages(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    """lmms-eval's messages (``{"type": "image", "url": …}``) → the row's (``{"type": "image", "image": …}``), and the
    images and audio arrays in order."""
    messages: list[dict[str, Any]] = []
    images: list[Any] = []
    audio: list[Any] = []
    for message in raw:
        content = []
        for part in message["content"]:
            kind = part["type"]
            if kind == "text":
                content.append({"type": "text", "text": part["text"]})
                continue
            if kind not in ("image", "audio"):
                raise ValueError(f"ovavebench_avllm: a {kind!r} part; expected text, image and audio parts")
            content.append({"type": kind, kind: part["url"]})
            (images if kind == "image" else audio).append(part["url"])
        messages.append({"role": message["role"], "content": content})
    return messages, images, audio


@register_model("ovavebench_avllm")
class OvavebenchAvllm(lmms):  # type: ignore[misc, unused-ignore]
    """An audio-visual LLM that ``transformers`` ships (Qwen2.5-Omni / Qwen3-Omni thinkers), loaded as the row does."""

    is_simple = False  # reads the task's doc_to_messages: each second's frame and audio in place

    def __init__(
        self,
        pretrained: str,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | str = 1,
        max_new_tokens: int | None = None,
        trust_remote_code: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if kwargs:
            raise ValueError(f"ovavebench_avllm: unknown model_args {', '.join(sorted(kwargs))}")
        self.llm = load_avllm(pretrained, device, dtype, trust_remote_code=bool(trust_remote_code))
        self.batch_size_per_gpu = int(batch_size)
        self.max_new_tokens = max_new_tokens

    @property
    def batch_size(self) -> int:
        return self.batch_size_per_gpu

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        """Not a request this model serves: the OV-AVEBench task asks for text (``generate_until``)."""
        raise OvavebenchError("ovavebench_avllm answers in text only (output_type generate_until), not loglikelihood")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        """Not a request this model serves: the OV-AVEBench task asks each video once."""
        raise OvavebenchError("ovavebench_avllm answers in one round (output_type generate_until), not multi-round")

    def generate_until(self, requests: list[Any]) -> list[str]:
        """One greedy answer per request, ``batch_size`` videos at a time, in the requests' order."""
        out: list[str] = []
        for begin in range(0, len(requests), self.batch_size):
            batch = [request.args for request in requests[begin : begin + self.batch_size]]
            chats, images, audio = [], [], []
            for _ctx, doc_to_messages, _gen, doc_id, task, split in batch:
                doc = self.task_dict[task][split][doc_id]
                messages, frames, clips = _hf_messages(doc_to_messages(doc))
                chats.append(messages)
                images.append(frames)
                audio.append(clips)
            gen_kwargs = batch[0][2] or {}
            tokens = int(self.max_new_tokens or gen_kwargs.get("max_new_tokens") or 160)
            replies = answer(self.llm, chats, images, audio, tokens)
            for (ctx, _, gen, _, _, _), reply in zip(batch, replies, strict=True):
                self.cache_hook.add_partial("generate_until", (ctx, gen), reply)
            out.extend(replies)
        return out

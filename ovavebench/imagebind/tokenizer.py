"""CLIP's byte-level BPE tokenizer, as ImageBind uses it (context 77, always ending in the end token)."""

from __future__ import annotations

import gzip
import html
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import ftfy
import regex
import torch

from .model import CONTEXT_LENGTH

START, END = "<|startoftext|>", "<|endoftext|>"
_SPLIT = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", regex.IGNORECASE
)
NUM_MERGES = 49152 - 256 - 2


@lru_cache(maxsize=1)
def byte_encoder() -> dict[int, str]:
    """Reversible byte → printable unicode character map (printable bytes map to themselves)."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def _clean(text: str) -> str:
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return " ".join(text.split()).lower()


class Tokenizer:
    """BPE over a merges file (``bpe_simple_vocab_16e6.txt.gz``)."""

    def __init__(self, vocab_path: str | os.PathLike):
        with gzip.open(vocab_path, "rt", encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        merges = [tuple(line.split()) for line in lines[1 : NUM_MERGES + 1]]
        symbols = list(byte_encoder().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [START, END]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.cache = {START: START, END: END}
        self.start_id, self.end_id = self.encoder[START], self.encoder[END]

    def _bpe(self, token: str) -> str:
        if token in self.cache:
            return self.cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        result = " ".join(word)
        self.cache[token] = result
        return result

    def encode(self, text: str) -> list[int]:
        """BPE ids of ``text`` (no start/end tokens)."""
        table = byte_encoder()
        ids: list[int] = []
        for piece in _SPLIT.findall(_clean(text)):
            piece = "".join(table[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(piece).split(" "))
        return ids

    def __call__(self, texts: str | Sequence[str], context_length: int = CONTEXT_LENGTH) -> torch.Tensor:
        """``[N, 77]`` int64: start token, BPE ids (truncated), end token, zeros.

        The end token is always kept (the current official rule): a text of more
        than 75 BPE tokens keeps its first 75.
        """
        if isinstance(texts, str):
            texts = [texts]
        out = torch.zeros(len(texts), context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = ([self.start_id] + self.encode(text))[: context_length - 1] + [self.end_id]
            out[row, : len(ids)] = torch.tensor(ids)
        return out


@lru_cache(maxsize=4)
def _tokenizer(path: str) -> Tokenizer:
    return Tokenizer(path)


def tokenize(texts: str | Sequence[str], vocab_path: str | os.PathLike | None = None) -> torch.Tensor:
    """Token ids ``[N, 77]`` for ``texts`` (the vocab file defaults to the one beside the cached checkpoint)."""
    from .weights import vocab_path as default_vocab

    return _tokenizer(str(Path(vocab_path) if vocab_path else default_vocab()))(texts)

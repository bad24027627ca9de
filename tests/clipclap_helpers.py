"""Tiny random CLIP and CLAP models saved as hub checkpoints are (weights, config, processor, tokenizer files)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import torch

from ovavebench.imagebind.tokenizer import NUM_MERGES, byte_encoder


def clip_vocab_files(bpe_gz: Path, folder: Path) -> None:
    """CLIP's ``vocab.json`` and ``merges.txt``, derived from its BPE merges file as CLIP's tokenizer derives them."""
    lines = gzip.open(bpe_gz, "rt", encoding="utf-8").read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : NUM_MERGES + 1]]
    vocab = list(byte_encoder().values())
    vocab += [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")


def save_tiny_clip(folder: Path, bpe_gz: Path, seed: int = 0) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder.mkdir(parents=True)
    clip_vocab_files(bpe_gz, folder)
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 224,
            "patch_size": 32,
        },
        projection_dim=16,
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(folder)
    CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tokenizer).save_pretrained(folder)
    return folder


def save_tiny_clap(folder: Path, seed: int = 0) -> Path:
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizer

    folder.mkdir(parents=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for char in byte_encoder().values():  # a byte-level BPE with no merges: every byte is a token
        vocab.setdefault(char, len(vocab))
    vocab["<mask>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    config = ClapConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 80,
            "projection_dim": 24,
        },
        audio_config={
            "hidden_size": 32,
            "depths": [1, 1],
            "num_attention_heads": [2, 2],
            "patch_embeds_hidden_size": 16,
            "window_size": 4,
            "spec_size": 256,
            "num_mel_bins": 64,
            "projection_dim": 24,
            "enable_fusion": False,
        },
        projection_dim=24,
    )
    torch.manual_seed(seed)
    ClapModel(config).save_pretrained(folder)
    extractor = ClapFeatureExtractor(
        feature_size=64, sampling_rate=48_000, max_length_s=10, padding="repeatpad", truncation="rand_trunc"
    )
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return folder

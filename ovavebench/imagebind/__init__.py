"""ImageBind (vision, audio and text towers) for OV-AVEBench: model, preprocessing, tokenizer.

Needs the ``baselines`` extra (torch). Public API::

    model = ImageBind.from_checkpoint(path, config=None)      # eval mode
    model.encode_vision(preprocess_frames(paths))              # [N, D]
    model.encode_audio(preprocess_audio("audio.wav"))          # [10, D]
    model.encode_text(tokenize(["dog barking", "other"]))     # [2, D]
"""

from .model import HUGE_CONFIG, ImageBind
from .preprocess import kaldi_fbank, preprocess_audio, preprocess_frames
from .tokenizer import Tokenizer, tokenize

__all__ = ["ImageBind", "HUGE_CONFIG", "preprocess_frames", "preprocess_audio", "kaldi_fbank", "tokenize", "Tokenizer"]

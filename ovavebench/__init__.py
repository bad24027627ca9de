"""ovavebench: build, annotate, split, score and baseline OV-AVEBench.

Open-Vocabulary Audio-Visual Event Localization (CVPR 2025): 67 VGGSound
classes (46 seen, 21 unseen), 10 one-second segments per video.
"""

__version__ = "0.2.0"

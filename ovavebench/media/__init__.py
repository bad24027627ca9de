"""Media stage: one decode pass per clip (10 middle frames + 16 kHz audio), and where each clip's media lie."""

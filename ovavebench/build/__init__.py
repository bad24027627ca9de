"""The main job (``ovavebench build``), the offline demo, and a benchmark folder's statistics."""

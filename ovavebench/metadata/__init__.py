"""Metadata stage: fetch and parse VGGSound's CSV and the published OV-AVEBench files."""

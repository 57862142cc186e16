"""Quantizers: what a mel-domain codec transmits (EMA VQ / RVQ and the mel encoders around them)."""

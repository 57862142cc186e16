"""Vocoders: log-mel [B, M, N] -> waveform [B, N * hop] (Griffin-Lim; HiFi-GAN generator and its discriminators)."""

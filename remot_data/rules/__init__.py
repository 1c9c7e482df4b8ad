"""Contrast rules: pick anchor, positive and negative frames of one clip from motion-expert values."""

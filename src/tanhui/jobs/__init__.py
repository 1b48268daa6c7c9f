"""Scheduled work: daily accounting (later: points issuance, checkpoints, anchoring)."""

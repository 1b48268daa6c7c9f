"""The tamper-evident audit log (pure core): RFC 9162 Merkle tree and proofs, canonical leaves with
commitments, C2SP signed notes, checkpoints, cosignatures and tiles, the witness's decision, and the
offline verifier of evidence bundles. No I/O: time, randomness and data come in as arguments."""

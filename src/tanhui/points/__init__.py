"""Points: the double-entry ledger model, issuance rules, expiry, vouchers and the rewards catalogue.

Pure core: time, randomness, keys and rule files come in as arguments (docs/points.md).
"""

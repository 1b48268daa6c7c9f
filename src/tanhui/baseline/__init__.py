"""Baseline (counterfactual) models, M&V metrics and avoided consumption with its uncertainty.

Pure core: data, weather, calendars and rules come in as arguments; nothing here reads a file, the clock
or the database. ``docs/baseline.md`` explains every model and rule to a verifier.
"""

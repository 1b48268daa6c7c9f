"""Meter protocols and register continuity.

One codec module per protocol, each with the same surface (``decode``, ``encode`` and one error type);
``continuity`` turns successive register values into consumption, handling rollover.
"""

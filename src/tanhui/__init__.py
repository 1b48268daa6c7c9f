"""Tanhui (碳惠): a community carbon platform.

Smart meters report a household's electricity, water and gas; the platform keeps a carbon account per
household, pays points for avoided emissions and keeps a verifiable log of every number it publishes.
The package layout follows ``shared/docs/architecture.md``: a pure core (``domain``, ``meters``,
``accounting``, ``baseline``, ``points``, ``audit``, ``insights``) and I/O at the edges.
"""

__version__ = "0.1.0"

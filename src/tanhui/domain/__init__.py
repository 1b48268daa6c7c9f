"""Value types shared by every package: identifiers, quantities and units, errors.

Standard library only: this package is the root of the pure core.
"""

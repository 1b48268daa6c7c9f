"""The ``tanhui`` command."""

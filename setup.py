"""The one compiled part: the C envelope reader (src/tanhui/meters/_columns.c). Everything else is in
pyproject.toml. ``optional``: without a C compiler the package installs and runs on the Python reader."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tanhui.meters._columns",
            ["src/tanhui/meters/_columns.c"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
            optional=True,
        )
    ]
)

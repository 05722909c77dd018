"""Build hook for tfckpt's optional C accelerator (everything else is in pyproject.toml).

``reference/tfckpt/_speedups.c`` is compiled by the ordinary ``pip install .``
with the machine's C compiler.  ``optional=True``: when there is no compiler
(or the build fails) the install still succeeds and tfckpt runs its pure-Python
code, which is complete on its own (see ``tfckpt/accel.py``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tfckpt._speedups",
            sources=["reference/tfckpt/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)

"""Build hook for the optional C extension; all metadata lives in pyproject.toml.

``kdir_torch.augment._warp`` is scipy's affine resampling arithmetic as a compiled kernel. It
is optional: where it cannot be compiled (no C compiler, no pthreads) the install still
succeeds and the augmentation uses its torch kernels instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "kdir_torch.augment._warp",
            sources=["kdir_torch/augment/_warp.c"],
            extra_compile_args=["-O3", "-ffp-contract=off", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        )
    ]
)

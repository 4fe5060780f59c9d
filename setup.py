"""Build hook for the optional C extensions; all metadata lives in pyproject.toml.

* ``kdir_torch.augment._warp``: scipy's affine resampling arithmetic as a compiled kernel
  (the augmentation on the CPU).
* ``kdir_torch.io._pick``: nearest-neighbour picking of uint8 pixels (the resize step of the
  exact libjpeg-turbo decode path, ``io/turbo_jpeg.py``).

Both are optional: where they cannot be compiled (no C compiler, no pthreads) the install still
succeeds and kdir_torch uses its torch kernels and PIL instead.
"""

from setuptools import Extension, setup

FLAGS = ["-O3", "-ffp-contract=off", "-pthread"]

setup(
    ext_modules=[
        Extension("kdir_torch.augment._warp", sources=["kdir_torch/augment/_warp.c"],
                  extra_compile_args=FLAGS, extra_link_args=["-pthread"], optional=True),
        Extension("kdir_torch.io._pick", sources=["kdir_torch/io/_pick.c"],
                  extra_compile_args=FLAGS, optional=True),
    ]
)

"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest

from kdir_torch.augment import _native


@pytest.fixture(params=["native", "torch"])
def kernel(request, monkeypatch) -> str:
    """Run a resampling test on the compiled kernel (scipy's pixels exactly; skipped where it is
    not built) and on the torch kernels that serve without it and on other devices."""
    if request.param == "native" and not _native.available():
        pytest.skip("the C extension is not built here")
    monkeypatch.setattr(_native, "ENABLED", request.param == "native")
    return request.param

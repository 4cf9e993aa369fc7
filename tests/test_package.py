from __future__ import annotations

import target_middleware


def test_public_surface_is_curated() -> None:
    assert target_middleware.__version__
    for name in target_middleware.__all__:
        assert hasattr(target_middleware, name), name

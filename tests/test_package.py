from __future__ import annotations

import target_middleware


def test_public_surface_is_curated() -> None:
    assert target_middleware.__version__
    for name in target_middleware.__all__:
        assert hasattr(target_middleware, name), name


def test_renamed_names_keep_their_old_public_names_for_one_release() -> None:
    from target_middleware.decisioning import Decision, OnDeviceDecision

    assert Decision is OnDeviceDecision


def test_one_name_one_thing() -> None:
    """No two things of the package share a name: an Action is the Delivery API's, HTML_TYPES are gone."""
    from target_middleware import delivery, html, personalize
    from target_middleware.html import actions

    assert not hasattr(actions, "Action")
    assert delivery.Action is not actions.NormalizedAction
    assert not hasattr(actions, "HTML_TYPES")
    assert not hasattr(personalize, "HTML_TYPES")
    assert personalize.HTML_CONTENT_TYPES == ("text/html", "application/xhtml+xml")
    assert not hasattr(html, "Options")

"""The options of a ``TargetClient``, checked at construction: a clear error naming the option, not a failure later."""

from __future__ import annotations

import re
from typing import Any

import httpx

from ..options import check_bool, check_number, check_optional_str, check_positive_int, describe_choices
from .decider import DecisioningMethod
from .params import GLOBAL_MBOX

__all__ = ["check_client_options"]

_CLIENT_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HOST = re.compile(r"(?=.{1,253}(?::\d{1,5})?$)[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?")


def check_client_options(
    *,
    client_code: Any,
    organization_id: Any,
    server_domain: Any,
    secure: Any,
    timeout: Any,
    property_token: Any,
    environment_id: Any,
    http_client: Any,
    global_mbox: Any,
    send_ip_address: Any,
    max_connections: Any,
    decisioning: Any,
    decider: Any,
    on_notifications: Any,
    max_pending_notifications: Any = 10_000,
) -> DecisioningMethod:
    """Raise TypeError or ValueError for the first option that cannot work; the decisioning method otherwise."""
    if not isinstance(client_code, str) or not _CLIENT_CODE.fullmatch(client_code):
        raise ValueError(
            f"client_code must be 1-64 letters, digits, '_' or '-' (your Target client code), not {client_code!r}"
        )
    if not isinstance(organization_id, str) or not organization_id.strip():
        raise ValueError("organization_id is required: your Experience Cloud organization, like 'ABC123@AdobeOrg'")
    server_domain = check_optional_str(server_domain, "server_domain", "edge.example:8080")
    if server_domain is not None and not _HOST.fullmatch(server_domain):
        raise ValueError(f"server_domain must be a host name, optionally with a port, not {server_domain!r}")
    check_number(timeout, "timeout", "seconds")
    check_bool(secure, "secure")
    check_bool(send_ip_address, "send_ip_address")
    check_optional_str(property_token, "property_token", "a1b2c3d4-...")
    check_positive_int(max_connections, "max_connections", "connections")
    check_positive_int(max_pending_notifications, "max_pending_notifications", "notifications")
    if environment_id is not None:
        check_positive_int(environment_id, "environment_id", "(Target's environment id)")
    if not isinstance(global_mbox, str) or not global_mbox.strip():
        raise ValueError(f"global_mbox must be an mbox name like {GLOBAL_MBOX!r}, not {global_mbox!r}")
    if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
        raise TypeError(f"http_client must be an httpx.AsyncClient, not {type(http_client).__name__}")
    if decider is not None and not callable(getattr(decider, "decide", None)):
        raise TypeError(f"decider must be a LocalDecider (with decide(request, session_id=...)), not {decider!r}")
    if on_notifications is not None and not callable(on_notifications):
        raise TypeError("on_notifications must be a (sync or async) callable of the notifications")
    try:
        return DecisioningMethod(decisioning)
    except ValueError:
        choices = describe_choices(m.value for m in DecisioningMethod)
        raise ValueError(f"decisioning must be one of {choices}, not {decisioning!r}") from None

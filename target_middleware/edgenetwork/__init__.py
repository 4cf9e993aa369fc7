"""Adobe's Edge Network Server API (``/ee/v2/interact``): the second transport, behind the same seam."""

from __future__ import annotations

from .answer import EdgeAnswer, Proposition, read_answer
from .client import EdgeNetworkClient
from .handoff import EdgeExchange
from .request import interact_body

__all__ = ["EdgeAnswer", "EdgeExchange", "EdgeNetworkClient", "Proposition", "interact_body", "read_answer"]

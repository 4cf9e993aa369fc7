"""What get_offers gives back (``offers``): the visitor after a local decision."""

from __future__ import annotations

import itertools

from target_middleware.delivery.offers import visitor_after_local
from target_middleware.visitor import Visitor

TNT_IDS = [None, "t1", "abc.35_0", "abc.7_1", "x" * 100 + ".35_0", "a_b.3_50", "a-b_c.35_0", "abc.35x_0"]
CLUSTERS = [None, "35", "7", "28", "3"]


def test_the_visitor_after_a_local_decision_is_updated_s() -> None:
    """For every tntId (hint or none, a hint like the cluster or not) and edge cluster: the value ``updated``
    gives, the same object when it gives the same object."""
    for tnt_id, cluster in itertools.product(TNT_IDS, CLUSTERS):
        visitor = Visitor(session_id="s1", tnt_id=tnt_id, edge_cluster=cluster)
        own = visitor.tnt_id  # the answer names the id the request sent: the visitor's own string
        expected = visitor.updated(tnt_id=own, edge_host=None)
        after = visitor_after_local(visitor, own)
        assert after == expected
        assert (after is visitor) == (expected is visitor)
        other = "other.28_0"  # an answer naming another id: updated's way
        assert visitor_after_local(visitor, other) == visitor.updated(tnt_id=other, edge_host=None)

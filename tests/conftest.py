from __future__ import annotations

from target_middleware import tracking

# A middleware without a signing_key says once per process that its clicks verify only on this process: counted as
# said here, so that tests counting their own middleware's warnings do not depend on which test ran first.
# tests/test_tracking.py checks the warning itself.
tracking._said.add("process-key")

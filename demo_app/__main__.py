from __future__ import annotations

print("target-middleware demo: coming soon")

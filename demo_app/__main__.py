"""``python -m demo_app``: the Trailhead shop on http://127.0.0.1:8000, personalized by Target on the server."""

from __future__ import annotations

import argparse
import logging
import os

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_app", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("DEMO_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))
    args = parser.parse_args(argv)
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:
        parser.error(f"the demo needs its extras ({exc.name} is missing): pip install -e '.[demo]'")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app()
    print(f"Trailhead: http://{args.host}:{args.port}/  ({app.state.target_settings.describe()})", flush=True)
    print(f"What Target did on a page: http://{args.host}:{args.port}/_target?path=/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m tests.fakes.kube_api --port 8001 [--seed honua]``: serve the fake until
interrupted. Knobs over HTTP: ``POST /_fake/{knob}`` with keyword arguments as JSON,
e.g. ``curl -XPOST localhost:8001/_fake/deny -d '{"verb":"list","resource":"pods"}'``."""

from __future__ import annotations

import argparse

from aiohttp import web

from tests.fakes.kube_api.fake import FakeKube
from tests.fakes.kube_api.routes import create_app
from tests.fakes.kube_api.seed import SEEDS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.kube_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--seed", choices=sorted(SEEDS), help="objects to start with")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every API response"
    )
    parser.add_argument("--user", help="the user named in 403 messages")
    args = parser.parse_args(argv)
    fake = FakeKube(user=args.user) if args.user else FakeKube()
    if args.seed:
        SEEDS[args.seed](fake)
    fake.set_latency(args.latency)
    print(f"fake Kubernetes API on http://{args.host}:{args.port}", flush=True)
    web.run_app(create_app(fake), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

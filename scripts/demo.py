"""`make demo`: the bot on embedded defaults, a Honua simulator with an injected
LLM rate-limit fault, real Prometheus scraping it (when installed), and one sample
alert sent through the running bot. Prints the diagnosed incident and stops."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.honua_sim import FAULTS, Simulator, create_app  # noqa: E402
from tests.fakes.server import ThreadedServer  # noqa: E402
from tests.helpers import free_port, wait_for_sync  # noqa: E402
from tests.realbins import PrometheusServer  # noqa: E402


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fault", choices=sorted(FAULTS), default="llm-rate-limit")
    args = parser.parse_args()

    sim = Simulator(fault=args.fault, rate=20, seed=1)
    sim.seed_history(60)
    target = ThreadedServer(create_app(sim)).start()
    print(f"simulator: {target.url}  (fault: {args.fault})")
    prom = None
    env = {**os.environ, "HONUA_BOT_PROCESS_API_URL": target.url}
    if shutil.which("prometheus"):
        prom = PrometheusServer([f"127.0.0.1:{target.port}"]).start()
        print(f"prometheus: {prom.url}  (waiting for two scrapes so rate() has data)")
        wait_for_sync(
            lambda: bool(prom.query("rate(honua_process_started_total[5m]) > 0")), 30, 0.5
        )
        env["HONUA_BOT_PROMETHEUS_URL"] = prom.url
    else:
        print("prometheus: not installed; the Prometheus probes will report that")
    port = free_port()
    env["HONUA_BOT_PORT"] = str(port)
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / "honua-bot-demo.log"
    log = log_path.open("wb")
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    print(f"bot log: {log_path}")
    try:
        wait_for_sync(lambda: _up(f"http://127.0.0.1:{port}/readyz"), 30, 0.2)
        print(
            f"honua-bot: http://127.0.0.1:{port}  (zero config: memory store, console notifier, bundled rules)\n"
        )
        return subprocess.call(
            [sys.executable, "-m", "bot.cli", "demo", "--url", f"http://127.0.0.1:{port}"]
        )
    finally:
        bot.terminate()
        bot.wait(15)
        log.close()
        if prom:
            prom.stop()
        target.stop()


if __name__ == "__main__":
    sys.exit(main())

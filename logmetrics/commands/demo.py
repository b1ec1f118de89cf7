"""`logmetrics demo DIR`: the live demo writer (see logmetrics.demo)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path


def demo_command(directory: Path, *, rate: float) -> None:
    from ..core.errors import UserError
    from ..demo import run_demo

    if not rate > 0:  # also NaN
        raise UserError(f"--rate {rate}: must be more than 0 lines per second")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_demo(directory, rate=rate, stop=stop)
    except KeyboardInterrupt:
        stop.set()

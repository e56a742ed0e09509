"""This process: who holds a claim (on a message being read, a mail being sent), and the flag a
stop signal raises."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

log = logging.getLogger(__name__)


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class StopFlag:
    """Set by SIGTERM/SIGINT: the message in hand is finished, then the run stops."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def install(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            log.info("signal %s: finishing the message in hand, then stopping", signum)
            self.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

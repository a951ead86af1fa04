"""The main loop of a pipeline worker process (process executor).

Started with forkserver (POSIX) or spawn, never fork: the driver has threads.
Receives pickled attempt specs on a pipe, answers with pickled results. The
driver kills the process when a step overruns its timeout.
"""

from __future__ import annotations

import os
import pickle
import signal
from typing import Any


def main(conn: Any) -> None:
    from . import capture
    from .task import execute

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    if hasattr(os, "setsid"):
        os.setsid()  # our own process group: a timeout stops whatever the step started too
    with capture.routing(tee=False):
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                return
            if not data:
                return
            result = execute(pickle.loads(data))
            try:
                conn.send_bytes(pickle.dumps(result))
            except (BrokenPipeError, OSError):
                return

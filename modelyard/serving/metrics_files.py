"""Worker processes' metric counts in a shared directory, one file per process.

Each process replaces its own file (``worker-<pid>-<random>.json``: a new name
for every process, so a reused pid never overwrites another's counts) with its
current totals: write to a temporary name, then ``os.replace``, so a reader sees
the old file or the new one, never half of one. Readers sum every other file.

What this promises, with ``modelyard serve --workers N`` (which creates the
directory for the supervisor's lifetime and removes it at exit):

* every scrape, whichever worker answers, reports every worker's counts as of
  its last write (at most ``metrics_flush_s`` old; the answering worker's own
  counts are live);
* a worker that stops or dies keeps its file, so its counts stay in the totals;
  its replacement starts a new file from zero, so nothing is counted twice;
* a worker killed outright (SIGKILL, OOM) loses what it counted since its last
  write (at most ``metrics_flush_s``); a worker stopped normally writes at shutdown.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import msgspec

log = logging.getLogger("modelyard.serving")

PREFIX = "worker-"
SUFFIX = ".json"


class MetricsFiles:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        self.path = os.path.join(directory, self.name)

    def write(self, data: dict[str, Any]) -> None:
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(msgspec.json.encode(data))
            os.replace(tmp, self.path)
        except OSError as exc:  # a full or removed directory must not fail a scrape or a request
            log.warning("could not write worker metrics to %s: %s", self.path, exc)

    def read_others(self) -> list[dict[str, Any]]:
        """The last counts written by every other process sharing the directory."""
        out: list[dict[str, Any]] = []
        try:
            names = os.listdir(self.directory)
        except OSError:
            return out
        for name in names:
            if name == self.name or not (name.startswith(PREFIX) and name.endswith(SUFFIX)):
                continue
            try:
                with open(os.path.join(self.directory, name), "rb") as fh:
                    data = msgspec.json.decode(fh.read())
            except (OSError, msgspec.DecodeError):  # removed meanwhile, or not ours
                continue
            if isinstance(data, dict):
                out.append(data)
        return out

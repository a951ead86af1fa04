"""Find the code samples of a Markdown page and run them as a reader would, in order.

A sample is a fenced ``python`` or ``bash`` block. A marker comment on the line before the
fence (blank lines allowed) says how it runs; without one it simply runs:

- python blocks run in one interpreter per page, in one namespace, in a fresh folder, so a
  page's blocks build on each other; bash blocks run with ``bash -euo pipefail`` in that folder.
- ``<!-- test: script NAME.py -->``: the python block is saved as NAME.py and run as
  ``python NAME.py`` in its own process (samples that must work as a script).
- ``<!-- test: server -->``: the block's ``modelyard server|serve|ui`` command runs in the
  background on a free port of 127.0.0.1 (lines before it run first, lines after it once it
  answers); it stays up for the rest of the page, and later samples have its port rewritten.
- ``<!-- test: install -->``: a fresh-machine install line; the test environment already holds
  the package, so only its last command (after the last ``&&``) runs.
- ``<!-- test: ci -->``: the command CI itself runs (``.ci/run``); checked to be that command.
- ``<!-- test: tested-by tests/PATH.py -->``: the sample needs what that test builds (say, a real
  MLflow installation to copy from); the file must exist and use the sample's command.
- ``<!-- test: skip REASON -->``: not run (deployment samples that need Docker, a cluster or a
  remote store only).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = re.compile(r"^<!--\s*test:\s*([\w-]+)\s*(.*?)\s*-->$")
FENCE = re.compile(r"^```(\w*)\s*$")
RUNNABLE = ("python", "bash")
SERVER_COMMAND = re.compile(r"\bmodelyard\s+(server|serve|ui)\b")
BLOCK_TIMEOUT = 120


@dataclass(frozen=True)
class Sample:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    marker: str = ""
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def parse(path: Path) -> list[Sample]:
    """Every fenced block of ``path`` in a runnable language, with its marker."""
    samples: list[Sample] = []
    lines = path.read_text().splitlines()
    marker: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        found = MARKER.match(line.strip())
        fence = FENCE.match(line)
        if found:
            marker = (found.group(1), found.group(2))
        elif fence:
            start = i
            i += 1
            body: list[str] = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if fence.group(1) in RUNNABLE:
                kind, argument = marker or ("", "")
                samples.append(Sample(path, start + 1, fence.group(1), "\n".join(body) + "\n", kind, argument))
            marker = None
        elif line.strip():
            marker = None
        i += 1
    return samples


_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A free port of 127.0.0.1 not handed out before (pages run in parallel)."""
    with _ports_lock:
        while True:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port


def logical_lines(code: str) -> list[str]:
    """Lines with backslash continuations joined."""
    out: list[str] = []
    pending = ""
    for line in code.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    return out


_WORKER = r"""
import json, sys, traceback
namespace = {"__name__": "__main__"}
for path in sys.stdin:
    path = path.strip()
    try:
        exec(compile(open(path).read(), path, "exec"), namespace)
        status = "ok"
    except BaseException:
        status = traceback.format_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    print("\n@@done@@" + json.dumps(status), flush=True)
"""


class PageRun:
    """Runs one page's samples in order in ``folder``; :meth:`close` stops what it started."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports: dict[str, str] = {}
        self.servers: list[subprocess.Popen[bytes]] = []
        self.python: subprocess.Popen[str] | None = None
        self.count = 0
        bin_dir = str(Path(sys.executable).parent)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELYARD_"))}
        self.env.update(PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""), HF_HUB_OFFLINE="1",
                        PYTHONUNBUFFERED="1", MPLBACKEND="Agg")

    def rewrite(self, code: str) -> str:
        for old, new in self.ports.items():
            code = re.sub(rf"(?<=[:=\s]){old}\b", new, code)
        return code

    def run(self, sample: Sample) -> None:
        code = self.rewrite(sample.code)
        kind = sample.marker
        if kind == "skip":
            assert sample.argument, f"{sample.where}: a skipped sample must say why"
            assert sample.path.name == "deployment.md", f"{sample.where}: only deployment samples may be skipped"
            return
        if kind == "ci":
            ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
            assert code.strip() in ci, f"{sample.where}: {code.strip()!r} is not what .ci/run runs"
            return
        if kind == "tested-by":
            self._tested_by(sample, code)
            return
        if kind == "install":
            code = code.rsplit("&&", 1)[-1].strip().replace(".venv/bin/", "")
        if sample.language == "python":
            self._python(sample, code)
        elif kind == "server":
            self._server(sample, code)
        else:
            self._bash(sample, code)

    def _tested_by(self, sample: Sample, code: str) -> None:
        test = Path(__file__).parents[2] / sample.argument
        assert sample.argument.startswith("tests/") and test.is_file(), f"{sample.where}: no test {sample.argument}"
        words = next(line for line in logical_lines(code) if line.strip() and not line.startswith("#")).split()
        text = test.read_text()
        assert all(word in text for word in words[1:3]), f"{sample.where}: {sample.argument} does not run {words[:3]}"

    def _bash(self, sample: Sample, code: str) -> None:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
        assert done.returncode == 0, f"{sample.where} failed ({done.returncode}):\n{code}\n{done.stdout}\n{done.stderr}"

    def _python(self, sample: Sample, code: str) -> None:
        self.count += 1
        if sample.marker == "script":
            name = sample.argument or f"sample_{self.count}.py"
            (self.folder / name).write_text(code)
            self._bash(sample, f"python {name}")
            return
        path = self.folder / f".sample_{self.count}.py"
        path.write_text(code)
        if self.python is None:
            self.python = subprocess.Popen([sys.executable, "-c", _WORKER], cwd=self.folder, env=self.env,
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True)
        assert self.python.stdin is not None and self.python.stdout is not None
        self.python.stdin.write(str(path) + "\n")
        self.python.stdin.flush()
        output: list[str] = []
        for line in self.python.stdout:
            if line.startswith("@@done@@"):
                status = json.loads(line[len("@@done@@"):])
                assert status == "ok", f"{sample.where} failed:\n{code}\n{''.join(output)}\n{status}"
                return
            output.append(line)
        raise AssertionError(f"{sample.where}: the interpreter exited:\n{''.join(output)}")

    def _server(self, sample: Sample, code: str) -> None:
        exports: list[str] = []
        segment: list[str] = []
        started = 0
        for line in logical_lines(code):
            if not SERVER_COMMAND.search(line) or line.lstrip().startswith("#"):
                segment.append(line)
                continue
            self._segment(sample, exports, segment)
            exports += [s for s in segment if s.startswith("export ")]
            segment = []
            self._start(sample, "\n".join(exports), line.split(" # ")[0].strip().removesuffix("&").strip())
            started += 1
        assert started, f"{sample.where}: a server sample has no modelyard server|serve|ui command"
        self._segment(sample, exports, segment)

    def _segment(self, sample: Sample, exports: list[str], lines: list[str]) -> None:
        if any(line.strip() and not line.lstrip().startswith("#") for line in lines):
            self._bash(sample, self.rewrite("\n".join(exports + lines)))

    def _start(self, sample: Sample, exports: str, command: str) -> None:
        """Start ``command`` in the background on a free port and wait until it answers."""
        port = re.search(r"--port\s+(\d+)", command)
        assert port, f"{sample.where}: the server command names no --port"
        new = str(free_port())
        self.ports[port.group(1)] = new
        log_path = self.folder / f".server_{new}.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(["bash", "-euo", "pipefail", "-c", f"{exports}\nexec {self.rewrite(command)}"],
                                      cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        self.servers.append(server)
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"{sample.where}: the server exited:\n{log_path.read_text()}"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", int(new))) == 0:
                    return
            assert time.monotonic() < deadline, f"{sample.where}: the server did not answer within 60 s"
            time.sleep(0.1)

    def close(self) -> None:
        if self.python is not None:
            self.python.kill()
            self.python.communicate()
        for server in self.servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()

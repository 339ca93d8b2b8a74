"""Connecting :class:`~linker.backend.ray.RayBackend` to a Ray cluster, with clear errors.

:func:`connect` uses this process's connection when there is one (Ray allows one cluster per
process), else connects to the cluster at an address (checked to answer first: ``ray.init``
would retry for minutes) or starts a local one, quiet.

Example:
    >>> probe("auto")  # found by Ray itself: nothing to check here
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from linker.errors import ConfigError

__all__ = ["check_same_cluster", "connect", "import_ray", "probe"]

logger = logging.getLogger(__name__)

_PROBE_TIMEOUT_S = 5.0


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is the part of the extra this backend needs
    except ImportError as e:
        raise ConfigError(
            "backend='ray' needs Ray and Ray Data: pip install 'linker[ray]' "
            "(or use the default backend='local')"
        ) from e
    return ray


def probe(address: str) -> None:
    """Fail fast when nothing listens at ``address`` (``ray.init`` would retry for minutes)."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"address={address!r} is not a Ray cluster address: give HOST:PORT of the head node "
            "(as `ray start --head` prints it), 'ray://HOST:PORT' or 'auto'"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=_PROBE_TIMEOUT_S):
            pass
    except OSError as e:
        raise ConfigError(
            f"no Ray cluster answers at {address!r} ({e}): start one with `ray start --head` "
            "and pass the address it prints, or leave address unset to start a local one"
        ) from e


def check_same_cluster(ray: Any, address: str | None) -> None:
    """Ray allows one cluster per process: refuse an address other than the connected one."""
    if address is None or address in ("auto", "local") or "://" in address:
        return
    current = ray.get_runtime_context().gcs_address
    if current != address:
        raise ConfigError(
            f"this process is already connected to the Ray cluster at {current}, and Ray "
            f"allows one per process: close the backend that connected it before using "
            f"{address!r}, or pass address={current!r}"
        )


def connect(address: str | None, num_workers: int | None) -> tuple[Any, bool]:
    """The connected ``ray`` module, and whether this call connected it (or started Ray).

    Args:
        address: As :class:`~linker.backend.ray.RayBackend` takes it (``None``: this
            process's connection, else a new local Ray of ``num_workers`` CPUs).
        num_workers: CPUs of a local Ray this call starts (``None``: this machine's).

    Raises:
        ConfigError: Ray is not installed, no cluster answers at ``address``, or this
            process is connected to another cluster.
    """
    ray = import_ray()
    if address is not None:
        probe(address)
    if ray.is_initialized():
        check_same_cluster(ray, address)
        logger.info("using this process's Ray connection")
        return ray, False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address is None:
            ray.init(num_cpus=num_workers, include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(
            f"could not connect to Ray at {address or 'a new local cluster'}: {e}"
            " (a cluster started with token authentication, the default once "
            "~/.ray/auth_token exists, needs RAY_AUTH_MODE=token for this process)"
        ) from e
    return ray, True

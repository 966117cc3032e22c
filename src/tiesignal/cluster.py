"""The Dask cluster that `compute=dask` trains on: an existing scheduler, or one that the
stage starts on this machine and stops when it ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tiesignal.config import ComputeConfig, ConfigError

if TYPE_CHECKING:
    from distributed import Client

CONNECT_SECONDS = 5


@contextmanager
def dask_client(cfg: ComputeConfig) -> Iterator[Client]:
    """A client of the scheduler at `compute.address`; without one, of a cluster of
    `compute.workers` processes (0: one per core) on 127.0.0.1 with no dashboard, which
    shares the cores among its workers."""
    from distributed import Client, LocalCluster

    if cfg.address:
        try:
            client = Client(cfg.address, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError, ValueError) as err:
            raise ConfigError(
                f"compute.address {cfg.address!r}: no Dask scheduler answered within "
                f"{CONNECT_SECONDS} s ({type(err).__name__}); start one with "
                "`dask scheduler`, or leave compute.address empty for a cluster on this machine"
            ) from None
        with client:
            yield client
        return
    workers = cfg.processes
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=max(1, cfg.cores() // workers),
            host="127.0.0.1",
            dashboard_address=None,
            processes=True,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def worker_threads(client: Client) -> tuple[int, int]:
    """How many workers the cluster has, and the threads of the smallest."""
    workers = client.scheduler_info()["workers"].values()
    return len(workers), min(w["nthreads"] for w in workers)

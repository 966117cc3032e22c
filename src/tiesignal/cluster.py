"""The Dask cluster that `compute=dask` runs on: an existing scheduler, or one that the
stage starts on this machine and stops when it ends; and the ways stages send it work."""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiesignal.config import ComputeConfig, ConfigError
from tiesignal.io import parquet_row_groups, read_row_group

if TYPE_CHECKING:
    from distributed import Client

CONNECT_SECONDS = 5
OMP_SETTING = "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__OMP_NUM_THREADS"

log = logging.getLogger(__name__)

# maps `function(task, *shared)` over tasks and yields (index, result) as each finishes
TaskMap = Callable[..., Iterator[tuple[int, Any]]]


@contextmanager
def dask_client(cfg: ComputeConfig) -> Iterator[Client]:
    """A client of the scheduler at `compute.address`; without one, of a cluster of
    `compute.workers` processes (0: one per core) on 127.0.0.1 with no dashboard, which
    shares the cores among its workers."""
    from distributed import Client, LocalCluster

    # not each worker's comings and goings; set here, as importing distributed resets it
    logging.getLogger("distributed").setLevel(logging.WARNING)
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
            _warn_single_threaded(client)
            yield client
        return
    workers = cfg.processes
    threads = max(1, cfg.cores() // workers)
    with (
        _workers_environ(OMP_NUM_THREADS=str(threads)),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            host="127.0.0.1",
            dashboard_address=None,
            processes=True,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextmanager
def task_map(cfg: ComputeConfig) -> Iterator[TaskMap | None]:
    """Where a stage's independent tasks run: None (in the stage, one after another) under
    compute=local; under compute=dask, `on_cluster` over the cluster `dask_client` gives."""
    if cfg.kind != "dask":
        yield None
        return
    with dask_client(cfg) as client:
        yield on_cluster(client)


def on_cluster(client: Client) -> TaskMap:
    """A map over the cluster's workers: `function(task, *shared)` for every task, with
    `shared` sent to each worker once; yields (index, result) as each task finishes."""
    from distributed import as_completed

    def run(function: Callable, tasks: list, *shared) -> Iterator[tuple[int, Any]]:
        if not tasks:
            return
        sent = client.scatter(list(shared), broadcast=True, hash=False)
        futures = {
            client.submit(function, task, *sent, pure=False): i for i, task in enumerate(tasks)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()

    return run


def row_groups_on_cluster(
    client: Client, source: Path, task: Callable, arguments: Iterable[tuple]
) -> Iterator[Any]:
    """`task(rows, *args)` for each row group of Parquet file `source` and each of
    `arguments` in turn (one per row group, drawn as the row group is sent), on the
    cluster's workers, which read the row group themselves: `source` must be where they
    can read it. Yields the results in file order; only a few row groups per worker thread
    are in flight, so memory stays bounded whatever the file's size."""
    in_flight: deque = deque()
    ahead = 2 * sum(client.nthreads().values())
    for group, args in zip(range(parquet_row_groups(source)), arguments, strict=False):
        rows = client.submit(read_row_group, source, group, pure=False)
        in_flight.append(client.submit(task, rows, *args, pure=False))
        if len(in_flight) > ahead:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()


def worker_threads(client: Client) -> tuple[int, int]:
    """How many workers the cluster has, and the threads of the smallest."""
    workers = client.scheduler_info()["workers"].values()
    return len(workers), min(w["nthreads"] for w in workers)


@contextmanager
def _workers_environ(**settings: str) -> Iterator[None]:
    """Environment for the workers a LocalCluster starts. Its nannies copy their settings
    (OMP_NUM_THREADS=1 among them) into this process's environment before starting a
    worker, and a value already there wins; this one is put back as it was afterwards.
    With one OpenMP thread LightGBM builds its row-wise histograms on one core whatever its
    num_threads: its rounds took 1.5 times as long at 10M requests."""
    saved = os.environ.copy()
    os.environ.update(settings)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _warn_single_threaded(client: Client) -> None:
    """Say so when the scheduler's workers would run LightGBM on one OpenMP thread: Dask's
    nannies start them with OMP_NUM_THREADS=1 unless told otherwise."""
    omp = client.run(_omp_threads)
    slow = [w for w, n in client.nthreads().items() if n > 1 and omp.get(w) == "1"]
    if slow:
        log.warning(
            "%d of %d Dask workers have several threads but OMP_NUM_THREADS=1, so LightGBM "
            "builds its histograms on one; start them with %s set to their threads",
            len(slow), len(omp), OMP_SETTING,
        )  # fmt: skip


def _omp_threads() -> str | None:
    return os.environ.get("OMP_NUM_THREADS")

"""Where a stage's work runs, chosen by `compute`: here, one piece after another
(compute=local), or on a Dask cluster (compute=dask) that the stage connects to or starts
on this machine and stops when it ends. A stage says what to do with each part of a file
and hands it to its `Executor`; it never asks which kind it has."""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tiesignal.config import ComputeConfig, ConfigError
from tiesignal.io import parquet_chunks, parquet_columns, parquet_row_groups, read_row_group

if TYPE_CHECKING:
    from distributed import Client

CONNECT_SECONDS = 5
OMP_SETTING = "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__OMP_NUM_THREADS"

log = logging.getLogger(__name__)


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


# what a part's own arguments are, from the columns the stage reads of it beforehand
Before = Callable[[pd.DataFrame], tuple]


@dataclass
class Executor:
    """Runs a stage's tasks: in this process (`client` None), or on the Dask cluster of
    `client`. Either way the results come back in the order of the work given."""

    client: Client | None = None
    chunk_rows: int = 1_000_000  # a part's size here; on a cluster, a part is one row group

    def parts(
        self,
        source: Path,
        task: Callable,
        shared: tuple = (),
        before: Before | None = None,
        reads: Iterable[str] = (),
    ) -> Iterator[Any]:
        """`task(rows, *before(read), *shared)` for each part of Parquet file `source`, in
        file order. `before` runs here, part by part in order, on the columns `reads` names
        (those the file has): what a part needs of the parts before it (a running count,
        the duplicates so far). Memory holds a few parts, whatever the file's size."""
        reads = [c for c in reads if c in parquet_columns(source)] if reads else []
        if self.client is None:
            for rows in parquet_chunks(source, self.chunk_rows):
                own = before(rows[reads]) if before else ()
                yield task(rows, *own, *shared)
            return
        yield from self._row_groups(source, task, shared, before, reads)

    def map(self, function: Callable, tasks: list, *shared) -> Iterator[tuple[int, Any]]:
        """`function(task, *shared)` for every task, independent of each other; yields
        (index, result) as each finishes. On a cluster `shared` goes to each worker once."""
        if self.client is None:
            for i, task in enumerate(tasks):
                yield i, function(task, *shared)
            return
        from distributed import as_completed

        if not tasks:
            return
        sent = self.client.scatter(list(shared), broadcast=True, hash=False)
        futures = {
            self.client.submit(function, task, *sent, pure=False): i for i, task in enumerate(tasks)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()

    def task_threads(self, threads: int) -> int:
        """The threads one of `map`'s tasks may use: all of them here, where the tasks run
        one after another; one on a cluster, where they run side by side."""
        return threads if self.client is None else 1

    def _row_groups(self, source, task, shared, before, reads) -> Iterator[Any]:
        """`parts` on the cluster: the workers read each row group themselves (`source` must
        be where they can read it); only a few row groups per worker thread are in flight."""
        client = self.client
        source = Path(source).resolve()
        sent = client.scatter(list(shared), broadcast=True, hash=False) if shared else []
        in_flight: deque = deque()
        ahead = 2 * sum(client.nthreads().values())
        for group in range(parquet_row_groups(source)):
            own = before(read_row_group(source, group, reads)) if before else ()
            own = client.scatter(list(own), hash=False) if own else []
            rows = client.submit(read_row_group, source, group, pure=False)
            in_flight.append(client.submit(task, rows, *own, *sent, pure=False))
            if len(in_flight) > ahead:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


@contextmanager
def executor(cfg: ComputeConfig) -> Iterator[Executor]:
    """The executor `compute` names, for the length of a stage."""
    if cfg.kind != "dask":
        yield Executor(chunk_rows=cfg.chunk_rows)
        return
    with dask_client(cfg) as client:
        yield Executor(client, cfg.chunk_rows)


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

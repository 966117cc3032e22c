"""compute=dask: LightGBM over a real Dask cluster gives the local model within noise, the
data prepared and featurized on the cluster are the bytes made here, and a scheduler that
does not answer is one clear error within seconds."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from conftest import ROOT, composed, run_stages, tiny_params

from tiesignal import io
from tiesignal.compute import dask_client
from tiesignal.config import ComputeConfig, ConfigError, load


def _private_network() -> bool:
    """`unshare --net` works here (it needs root): a namespace with only loopback."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return False
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(
    not _private_network(),
    reason="needs `unshare --net` (root): LightGBM's training sockets bind every interface, "
    "so a Dask fit runs only in a private network namespace",
)
def test_a_dask_fit_gives_the_local_model_within_noise(tmp_path):
    """Not the same bytes: each worker bags its own share of the rows and the histograms
    are summed in another order. On the tiny world (about 1,000 valid requests, 40
    positives) seeds alone move valid ROC-AUC by about 0.01."""
    run = subprocess.run(
        ["unshare", "--net", "sh", "-c",
         f"ip link set lo up && exec {sys.executable} dask_train_both.py {tmp_path}"],
        cwd=ROOT / "tests", capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    scores = json.loads(run.stdout.strip().splitlines()[-1])
    local, dask = scores["local"], scores["dask"]
    max_rounds = composed()["model"]["max_rounds"]
    assert 0 < dask["best_iteration"] < max_rounds, "early stopping stopped every worker"
    assert abs(dask["valid_roc_auc"] - local["valid_roc_auc"]) <= 0.02
    assert abs(dask["valid_logloss"] / local["valid_logloss"] - 1) <= 0.02


def test_prepare_featurize_and_evaluate_on_a_dask_cluster_write_the_bytes_written_here(
    tmp_path, monkeypatch
):
    """Workers validate the row groups with the duplicates the stage found beforehand,
    build each row group's features from the history at its start, which the stage
    carries, and score the feature tables' row groups with the model: the same files as
    one process reading chunks of 700 rows. Row groups of 1,000 rows: six partitions, a
    duplicate five groups after its first row, senders and recipients who recur, outcomes
    that become known in a later partition. Loopback only: no namespace needed."""
    from distributed import Client, LocalCluster, get_task_stream

    monkeypatch.setattr(io, "ROW_GROUP_ROWS", 1000)
    here, there = tmp_path / "here", tmp_path / "cluster"
    run_stages(here, tiny_params(), ("simulate", "ingest"))
    interim = here / "data" / "interim" / "requests.parquet"
    rows = io.read_parquet(interim)
    rows.loc[5500, "request_id"] = rows.loc[10, "request_id"]
    rows.loc[2600, "mutual_connections"] = -3
    io.write_parquet(rows, interim)
    for made in ("interim", "origins"):
        shutil.copytree(here / "data" / made, there / "data" / made)
    stages = ("prepare", "featurize")
    run_stages(here, tiny_params("compute.chunk_rows=700"), (*stages, "train", "evaluate"))
    for trained in ("data/raw", "models"):  # the model trained here; the truth to score by
        shutil.copytree(here / trained, there / trained)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,  # fmt: skip
        Client(cluster) as client,
        get_task_stream(client) as tasks,
    ):
        params = tiny_params("compute=dask", f"compute.address={cluster.scheduler_address}")
        run_stages(there, params, (*stages, "evaluate"))
    scored = [pq.ParquetFile(f) for f in (here / "data" / "features").glob("*.parquet")]
    groups = {"validate_and_set_aside": 6, "tables_from": 6,
              "scored_rows": sum(f.num_row_groups for f in scored)}  # fmt: skip
    for task, row_groups in groups.items():
        ran = [t for t in tasks.data if task in str(t["key"])]
        assert len(ran) == row_groups, task
        assert len({t["worker"] for t in ran}) == 2, task

    def digests(root):
        made = [p for f in ("prepared", "features") for p in (root / "data" / f).iterdir()]
        made += [root / f for f in ("reports/prepare.json", "data/predictions/test.parquet",
                                    "reports/evaluate.json", "reports/evaluate.md")]  # fmt: skip
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in made
        }

    assert digests(there) == digests(here)
    assert len(digests(here)) == 10
    rejects = io.read_parquet(here / "data" / "prepared" / "rejects.parquet")
    assert rejects["reject_row"].tolist() == [2600, 5500]
    assert "first at row 10" in rejects["reject_reason"].iloc[1]


def test_a_scheduler_that_does_not_answer_is_one_clear_error_within_seconds():
    settings = composed("compute=dask")["compute"] | {"address": "tcp://127.0.0.1:9"}
    cfg = load(ComputeConfig, settings, "compute")
    start = time.perf_counter()
    refused = pytest.raises(ConfigError, match=r"compute\.address 'tcp://127\.0\.0\.1:9': no Dask ")
    with refused, dask_client(cfg):
        pass
    assert time.perf_counter() - start < 15


def test_a_scheduler_address_needs_compute_dask():
    with pytest.raises(ConfigError, match=r"compute\.address: only compute=dask"):
        load(ComputeConfig, composed()["compute"] | {"address": "tcp://10.0.0.5:8786"}, "compute")


def test_workers_get_as_many_openmp_threads_as_dask_threads(caplog):
    """Dask's nannies start workers with OMP_NUM_THREADS=1, which left LightGBM's histograms
    on one core (rounds 1.5 times as long at 10M requests). The cluster that `train`
    starts sets it to the workers' threads; a scheduler that was started without it is
    named in a warning. Loopback only, and no LightGBM sockets: no namespace needed."""
    from distributed import LocalCluster

    from tiesignal.compute import _omp_threads

    settings = composed("compute=dask")["compute"] | {"workers": 1}
    with dask_client(load(ComputeConfig, settings, "compute")) as client:
        threads = next(iter(client.nthreads().values()))
        assert set(client.run(_omp_threads).values()) == {str(threads)}
    assert "OMP_NUM_THREADS=1" not in caplog.text

    with LocalCluster(n_workers=1, threads_per_worker=2, host="127.0.0.1",
                      dashboard_address=None) as cluster:  # fmt: skip
        remote = load(ComputeConfig, settings | {"address": cluster.scheduler_address}, "compute")
        with caplog.at_level("WARNING", logger="tiesignal.compute"), dask_client(remote):
            pass
    assert "1 of 1 Dask workers have several threads but OMP_NUM_THREADS=1" in caplog.text
    assert "PRE_SPAWN_ENVIRON__OMP_NUM_THREADS" in caplog.text

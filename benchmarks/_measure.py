"""Run one stage script in this process and append its wall time and peak RSS to a file:
this process's, and the largest of its worker processes' (`simulate` over several), so the
stage's memory is at most `peak_mib + workers * worker_peak_mib`.

python benchmarks/_measure.py RESULT.jsonl pipelines/simulate.py
"""

import json
import resource
import runpy
import sys
import time

if __name__ == "__main__":
    result, script = sys.argv[1], sys.argv[2]
    sys.argv = [script]
    sys.path.insert(0, script.rsplit("/", 1)[0])
    start = time.perf_counter()
    runpy.run_path(script, run_name="__main__")
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    row = {"script": script, "seconds": round(seconds, 2), "peak_mib": round(peak_mib),
           "worker_peak_mib": round(worker_peak_mib)}  # fmt: skip
    with open(result, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")

"""Write params.yaml from conf/ exactly as `dvc exp run` does (DVC's own compose_and_dump).

    .venv/bin/python scripts/compose_params.py [HYDRA_OVERRIDE ...]

`dvc repro` reads the committed params.yaml; run this after editing conf/.
"""

import sys
from pathlib import Path

from dvc.utils.hydra import compose_and_dump

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    compose_and_dump(
        ROOT / "params.yaml", str(ROOT / "conf"), None, "config", str(ROOT), sys.argv[1:]
    )
    print(f"wrote {ROOT / 'params.yaml'}")

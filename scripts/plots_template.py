"""Write the HTML template that makes `dvc plots show` and `dvc plots diff` work offline.

DVC's own page loads Vega, Vega-Lite and vega-embed from a CDN, so with no network the
plots are blank. This template inlines them instead, from the bundle of the pinned
`vl-convert-python` package; `.dvc/config` points `plots.html_template` at it. It is
generated (by scripts/setup.sh), not committed: about 1.5 MB of JavaScript.

    python scripts/plots_template.py [OUT]    # default: .dvc/tmp/plots-offline.html
"""

from __future__ import annotations

import sys
from pathlib import Path

import vl_convert

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / ".dvc" / "tmp" / "plots-offline.html"

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <script type="text/javascript">
BUNDLE
    </script>
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def main(out: Path = DEFAULT) -> Path:
    # the page has no `{scripts}` placeholder, where DVC would put its CDN <script> tags
    bundle = vl_convert.javascript_bundle().replace("</script", "<\\/script")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(PAGE.replace("BUNDLE", bundle), encoding="utf-8")
    tmp.replace(out)
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))

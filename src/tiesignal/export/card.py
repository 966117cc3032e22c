"""The model card: what the exported model was trained on, how good it is, what not to do."""

from __future__ import annotations

from tiesignal.config import TargetConfig
from tiesignal.schema import SPLITS


def model_card(spec: dict, metrics: dict, data: dict, model: dict) -> str:
    """Markdown from the feature spec, the test metrics (reports/evaluate.json), the prepare
    report (reports/prepare.json) and facts about the model (kind, trees, registry name)."""
    simulated = set(data.get("sources", {})) == {"simulated"}
    lines = [
        *_purpose(data, model),
        *_model(spec, model),
        "## Drift",
        _drift(metrics),
        "",
        *_data(data, metrics),
        "## Test metrics",
        "",
        "| metric | value |",
        "|---|---:|",
        *(
            f"| {name} | {value:.4f} |"
            for name, value in sorted(metrics.items())
            if name != "n_test"
        ),  # fmt: skip
        "",
        *INTENDED_USE,
        "## Limitations",
        SIMULATED_DATA if simulated else DONATED_DATA,
        *LIMITATIONS,
        *FILES,
    ]
    return "\n".join(lines)


def _purpose(data: dict, model: dict) -> list[str]:
    accepted_only = data["target"] == "opportunity_given_accept"
    return [
        f"# Model card: {model['registered_model']}",
        "",
        "Predicts, for one professional-network connection request, the probability that it "
        f"{TargetConfig(data['target']).question(data['label_window_days'])} of being sent "
        f"(target `{data['target']}`"
        + ("; trained and tested on accepted requests only" if accepted_only else "")
        + ").",
        "",
    ]


def _model(spec: dict, model: dict) -> list[str]:
    return [
        "## Model",
        f"- LightGBM binary classifier, {model['trees']} trees (early stopping on the "
        "validation period), feature set `" + model["feature_set"] + "`.",
        f"- {len(spec['features'])} features in the groups {', '.join(spec['groups'])}; feature "
        f"code version {spec['feature_code_version']}. `feature_spec.json` lists them in input "
        "order with their meaning and the category levels.",
        f"- Registered in MLflow as `{model['registered_model']}` with the alias "
        f"`{model['alias']}`.",
        "",
    ]


def _data(data: dict, metrics: dict) -> list[str]:
    sources = ", ".join(f"{name} ({n:,} requests)" for name, n in data.get("sources", {}).items())
    splits = sorted(data["splits"].items(), key=lambda kv: SPLITS.index(kv[0]))
    return [
        "## Data",
        f"- Source: {sources or 'unknown'}. Data end: {data['data_end']}.",
        _split(data, metrics),
        "",
        "| split | requests | opportunities | from | to |",
        "|---|---:|---:|---|---|",
        *(
            f"| {name} | {s['rows']:,} | {s['positives']:,} | {s['from']} | {s['to']} |"
            for name, s in splits
        ),  # fmt: skip
        "",
    ]


INTENDED_USE = [
    "## Intended use",
    "- Research: which kinds of connection requests tend to lead to opportunities, and "
    "ranking requests for study or triage by the person who received them.",
    "- Not for decisions about people: not for screening candidates, judging senders, or "
    "anything that changes what a person is offered.",
    "",
]
SIMULATED_DATA = (
    "- **Trained on simulated data.** The world is made up, so these metrics say how "
    "well the pipeline recovers a known truth, not how requests behave in reality."
)
DONATED_DATA = (
    "- Trained on the data above only: people who donate their data, or one "
    "organisation's records, are not everyone."
)
LIMITATIONS = [
    "- **Correlation, not cause.** A feature that predicts opportunities need not cause "
    "them: recruiters with a real opening personalize more, so personalization predicts "
    "well beyond what it does. Do not read importance as advice.",
    "- **Fairness.** Network size, seniority and industry track privilege and occupation; "
    "the data hold no protected attributes, so the model's errors across groups of "
    "people cannot be audited here. Check before any use that touches people.",
    "- **History features** (`sender_prior_requests`, `note_template_reuse`) count the "
    "requests earlier in the data scored; score files in time order, and expect lower "
    "counts than in training when a file starts later than the sender's history.",
    "- **Drift.** Trained on one period; recruiting markets change. Re-train and compare "
    "with the test period's metrics before trusting scores on newer requests.",
    "",
]
FILES = [
    "## Files",
    "- `model.onnx`: ONNX-ML, float32 input `input` [N, features], output "
    "`probabilities` [N, 2] (column 1 is P(opportunity)).",
    "- `model.txt`: LightGBM's text model.",
    "- `mlflow_model/`: MLflow model; its pyfunc returns P(opportunity).",
    "- `raw_requests_model/`: MLflow model of the same trees for raw requests (canonical "
    "schema, names not codes); history features count the requests of the same call.",
    "- `feature_spec.json`: the features in input order, their groups and category levels.",
    "",
]


def _split(data: dict, metrics: dict) -> str:
    if data["split_method"] == "time":
        return (
            "- Train, validation and test are consecutive periods; no recipient is in two of them."
        )
    return (
        f"- Cross-validated over participants: {metrics['cv_folds']:.0f} folds of "
        f"{metrics['cv_recipients']:.0f} recipients, no recipient in two; out-of-fold ROC-AUC "
        f"{metrics['cv_roc_auc']:.4f} [{metrics['cv_roc_auc_low']:.4f}, "
        f"{metrics['cv_roc_auc_high']:.4f}]. This model is the first rotation's: trained on "
        "the other folds, stopped early on fold 1, tested on fold 0 (the splits below)."
    )


def _drift(metrics: dict) -> str:
    """The drift flag of `evaluate` (reports/evaluate.json), in one line."""
    if "cv_roc_auc" in metrics:
        return "- Not judged: the splits are folds of participants, not periods."
    if not metrics.get("drift_flag"):
        return "- No drift flagged between the training and test periods (reports/evaluate.md)."
    return (
        "- **Flagged:** the test period departs from the training period (base rate "
        f"{metrics['drift_base_rate_train']:.2%} in train, {metrics['drift_base_rate_test']:.2%} "
        "in test; see reports/evaluate.md). Test metrics may not describe the data it will score."
    )

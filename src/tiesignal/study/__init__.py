"""The feature-group study: which signals lead to opportunities, with honest uncertainty.

Every feature group is dropped from the full model (leave one group out) and used alone,
over several seeds on the same splits; the change in test ROC-AUC and PR-AUC gets a 95%
paired-bootstrap interval over test requests beside its spread over seeds. Attribution
(mean |SHAP|, partial dependence) explains the full model, and on simulated data the
answers are checked against the world's truth.
"""

# what the study writes only where the data come with a world's truth (the simulator's):
# a real-data pipeline plots none of them (workspace.real_data_pipeline)
TRUTH_FILES = ("truth_groups.csv", "tie_strength.csv", "tie_strength.png")

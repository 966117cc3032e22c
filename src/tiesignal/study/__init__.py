"""The feature-group study: which signals lead to opportunities, with honest uncertainty.

Every feature group is dropped from the full model (leave one group out) and used alone,
over several seeds on the same splits; the change in test ROC-AUC and PR-AUC gets a 95%
paired-bootstrap interval over test requests beside its spread over seeds. Attribution
(mean |SHAP|, partial dependence) explains the full model, and on simulated data the
answers are checked against the world's truth.
"""

"""A trained LightGBM model packaged for tools outside the pipeline.

The folder holds one model three ways (ONNX, LightGBM text, MLflow model) beside the
recipe that turns raw requests into its input (`feature_spec.json`) and a model card.
Nothing in it is a pickle. `ExportedModel` loads the folder back for `tiesignal predict`.
"""

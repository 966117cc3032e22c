"""Model kinds (LightGBM, logistic regression), their training, saving and loading."""

"""Model features from observable request fields, the same code for training and scoring."""

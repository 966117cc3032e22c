"""The test split scored: metrics, curves, calibration, plots."""

"""The feature repository: Feast definitions and the one feature specification."""

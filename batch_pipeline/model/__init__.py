"""Training, export, evaluation and the champion gate of the fraud model."""

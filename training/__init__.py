"""Training: splits, candidate models, evaluation, MLflow logging, the pyfunc wrapper, and promotion."""

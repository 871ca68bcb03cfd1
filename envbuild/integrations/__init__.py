"""envbuild inside other tools: MLflow (``mlflow``)."""

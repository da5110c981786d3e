"""MLflow models-from-code entry: the file MLflow runs to build the logged model (no pickled Python object).

Logged as ``python_model`` by :func:`training.pyfunc.log_pyfunc`; the ``features`` and ``training`` packages travel
with the model as ``code_paths``, so this import works wherever the model is loaded.
"""

import mlflow

from training.pyfunc import PrescreenModel

mlflow.models.set_model(PrescreenModel())

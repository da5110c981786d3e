"""``python -m serving``: serve with the settings from the environment (``IMR_*``, ``.env``)."""

from serving.server import serve

if __name__ == "__main__":
    serve()

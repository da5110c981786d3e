"""The API's routes, one ``APIRouter`` per resource; :func:`serving.app.create_app` includes them."""

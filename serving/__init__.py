"""Serving: settings, champion loading and reloading, the API and the page."""

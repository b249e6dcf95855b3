"""HTTP: the FastAPI app, authentication, JSON routes under /api/v1 and the Chinese web dashboard."""

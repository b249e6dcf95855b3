"""JSON API routers under ``/api/v1``; each is thin: validate, check scope, call queries or services, shape."""

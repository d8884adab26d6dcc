"""The API's routers, one file per resource: search, answer, documents, system (index, health, metrics), web."""

from api.routes import answer, documents, search, system, web

ROUTERS = (search.router, answer.router, documents.router, system.router, web.router)

__all__ = ["ROUTERS"]

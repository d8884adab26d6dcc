"""The API's routers, one file per resource: search, answer, documents (and their page images), system (index,
health, metrics), web. Page images come before documents: ``GET /v1/documents/{doc_id:path}`` would take their
paths otherwise."""

from api.routes import answer, documents, pages, search, system, web

ROUTERS = (search.router, answer.router, pages.router, documents.router, system.router, web.router)

__all__ = ["ROUTERS"]

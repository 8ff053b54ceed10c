"""The desk page: one hand-written HTML page, a stylesheet and a script, served by the index service.

The page talks only to the public /v1 API of the same origin; nothing is fetched from elsewhere.
"""

from .routes import ASSETS, SECURITY_HEADERS, desk_router

__all__ = ["ASSETS", "SECURITY_HEADERS", "desk_router"]

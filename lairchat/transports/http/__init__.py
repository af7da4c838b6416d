"""The REST API on the HTTP port (HTTP.md): a Klein app over the core.

``app.HttpApi`` assembles it; ``routes_*`` hold the handlers, one module per area;
``auth``, ``bodies`` and ``errors`` read requests and write refusals; ``root`` and
``site`` are the resource tree and server factory; ``openapi`` describes it all.
"""

"""The adapters that frame bytes for the core: TCP, WebSocket, HTTP."""

#: Seconds a connection closed by the server may take to finish closing (send what
#: is queued; under TLS, the handshake and close_notify first) before it is aborted.
#: A peer that never reads, or never starts the TLS handshake or never ends it,
#: would otherwise hold a closed connection, and its place under the connection
#: caps, for good. (The WebSocket closing handshake has its own bound.)
CLOSE_GRACE = 5.0

"""Transports: bytes in, decoded dicts out; dicts in, bytes out.

``http``    the REST API with treq (accounts, lists, history, membership actions)
``tcp``     the length-prefixed real-time protocol, optionally encrypted
``ws``      the same protocol over Autobahn WebSocket
``session`` the transport-independent client side of the real-time protocol
``link``    one logical real-time link: connect, handshake, keepalive, reconnect
``codec``, ``errors``, ``tls``: JSON framing, one error type, certificate policy
"""

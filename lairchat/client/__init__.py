"""The lairchat terminal client: an urwid interface on the Twisted reactor.

It speaks only the public protocols (REST for accounts, lists and history; the TCP or
WebSocket real-time protocol for live events), so it works against lairchat and the
original Lair Chat server alike. Layers, from the wire inward:

``net/``        transports that turn bytes into decoded dicts (TCP, WebSocket, HTTP)
``state.py``    the client model; pure, applies server events and responses
``commands.py`` slash commands and keys to actions; pure
``app.py``      the controller: network ↔ state ↔ interface
``ui/``         urwid widgets that draw the state
"""

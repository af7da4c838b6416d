"""urwid widgets that draw the client state.

Widgets read :class:`~lairchat.client.state.ClientState` in ``update`` and turn keys
into actions (``lairchat.client.commands``) for the controller; they keep only what is
purely visual (insert or normal mode, scroll position, selections, open overlays).
Every widget renders at a fixed size without a terminal, which is how they are tested.
Text is shown through ``safetext.py`` (``SafeText``, ``SafeLine``, ``SafeLineBox``),
never with ``urwid.Text``: what the server sends may hold controls and bidi overrides.
"""

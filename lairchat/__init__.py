"""lairchat: a wire-compatible Lair Chat server and terminal client on Twisted."""

__version__ = "0.1.0"

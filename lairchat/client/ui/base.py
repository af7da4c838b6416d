"""What widgets need from the controller: a place to send actions, and two hints."""

from __future__ import annotations

from typing import Protocol

from lairchat.client.commands import Action, CommandError

__all__ = ["Controller"]


class Controller(Protocol):
    def dispatch(self, action: Action | CommandError | None) -> None:
        """Carry out what the user asked for."""

    def typing(self) -> None:
        """The user is typing a message in the shown conversation."""

    def load_older(self) -> None:
        """The message pane was scrolled to its top."""

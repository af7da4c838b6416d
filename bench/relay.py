"""The floor: bare Twisted relays that lairchat is measured against in the same run.

    python bench/relay.py tcp    Int32StringReceiver: each frame to every other
                                 connection (framed once), TCP_NODELAY, nothing else
    python bench/relay.py ws     Autobahn: each text message to every other
                                 connection as one prepared message

They do no parsing, no authentication, no storage and no flow control: whatever
lairchat does beyond this is its cost. Each listens on a port of the kernel's choosing
on 127.0.0.1 and prints ``listening PORT`` once it is open.
"""

from __future__ import annotations

import struct
import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import Int32StringReceiver

PREFIX = struct.Struct("!I")


class TCPRelay(Int32StringReceiver):
    MAX_LENGTH = 1_048_576

    def connectionMade(self) -> None:  # noqa: N802
        self.transport.setTcpNoDelay(True)
        self.factory.clients.append(self)

    def connectionLost(self, reason: object = None) -> None:  # noqa: N802
        self.factory.clients.remove(self)

    def stringReceived(self, data: bytes) -> None:  # noqa: N802
        frame = PREFIX.pack(len(data)) + data
        for client in self.factory.clients:
            if client is not self:
                client.transport.write(frame)


def tcp_factory() -> protocol.ServerFactory:
    factory = protocol.ServerFactory()
    factory.protocol = TCPRelay
    factory.clients = []
    return factory


def ws_factory() -> protocol.ServerFactory:
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol

    class WSRelay(WebSocketServerProtocol):
        def onOpen(self) -> None:  # noqa: N802
            self.factory.clients.append(self)

        def connectionLost(self, reason: object = None) -> None:  # noqa: N802
            if self in self.factory.clients:
                self.factory.clients.remove(self)
            super().connectionLost(reason)

        def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802, N803
            prepared = self.factory.prepareMessage(payload, isBinary)
            for client in self.factory.clients:
                if client is not self:
                    client.sendPreparedMessage(prepared)

    factory = WebSocketServerFactory()  # its URL is set once the port is known
    factory.protocol = WSRelay
    factory.clients = []
    # The same framing choices as lairchat's /ws: no fragmentation, no compression.
    factory.setProtocolOptions(tcpNoDelay=True, autoFragmentSize=0)
    return factory


def main() -> None:
    kind = sys.argv[1]
    factory = tcp_factory() if kind == "tcp" else ws_factory()
    port = reactor.listenTCP(0, factory, backlog=1024, interface="127.0.0.1").getHost().port
    if kind == "ws":
        factory.setSessionParameters(f"ws://127.0.0.1:{port}")
    print(f"listening {port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()

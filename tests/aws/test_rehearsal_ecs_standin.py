"""Tests of rehearsal/world/ecs_standin.py: the local stand-in of an ECS service."""

from __future__ import annotations

import http.client
import socket

from rehearsal.world.ecs_standin import TILE_PNG, StandinServer


def _get(server: StandinServer, connection: http.client.HTTPConnection, **headers: str):
    connection.request("GET", "/map/v1/tile/12/1/2.png", headers=headers)
    response = connection.getresponse()
    return response, response.read()


def test_it_serves_a_png_tile_with_caching_headers_on_keep_alive():
    with StandinServer("monolith") as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        response, body = _get(server, connection)
        assert response.status == 200
        assert body == TILE_PNG and body.startswith(b"\x89PNG")
        assert response.getheader("Content-Type") == "image/png"
        assert response.getheader("X-Standin") == "monolith"
        etag = response.getheader("ETag")
        assert etag
        # Same connection: HTTP/1.1 keep-alive, as behind an ALB.
        response, body = _get(server, connection, **{"If-None-Match": etag})
        assert response.status == 304 and body == b""
        assert server.requests == 2
        connection.close()


def test_a_failing_standin_answers_503_until_healed():
    with StandinServer("upstream") as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        server.set_failing(True)
        assert _get(server, connection)[0].status == 503
        server.set_failing(False)
        assert _get(server, connection)[0].status == 200
        connection.close()


def test_two_standins_get_their_own_ports_and_stop_cleanly():
    first = StandinServer("a").start()
    second = StandinServer("b").start()
    try:
        assert first.port != second.port
    finally:
        port = first.port
        first.stop()
        second.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the socket is closed after stop"

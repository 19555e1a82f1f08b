# Connect to a TCP server the test runs on the host's loopback; passes only if the connection succeeds.
import socket

with socket.create_connection(("127.0.0.1", __PORT__), timeout=2) as s:
    assert s.recv(2) == b"ok"

#!/usr/bin/env python3
"""A socket-activated HTTP server for trying `rsctl up --listen` and
`rsctl update`: it serves on the socket rs-agent passes as fd 3
(LISTEN_FDS/LISTEN_PID, the systemd convention), answers every request
with "VERSION pid PID", says READY=1 on $NOTIFY_SOCKET, and on SIGUSR1
(`rsctl update --prepare-signal USR1`) says X_RS_PREPARED=1.

    rsctl up web --listen http=tcp:127.0.0.1:8081 -- python3 $PWD/listen-server.py v1
    rsctl update web -- python3 $PWD/listen-server.py v2
"""
import http.server
import os
import signal
import socket
import sys

VERSION = sys.argv[1] if len(sys.argv) > 1 else "v1"


def notify(msg):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg.encode(), path)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{VERSION} pid {os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{VERSION}: " + (fmt % args) + "\n")


def main():
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or \
            int(os.environ.get("LISTEN_FDS", "0")) < 1:
        sys.exit("no socket passed: start me with rsctl up --listen NAME=ADDR")
    server = http.server.HTTPServer(("", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=3)
    signal.signal(signal.SIGUSR1, lambda *_: notify("X_RS_PREPARED=1"))
    notify(f"READY=1\nSTATUS={VERSION} serving")
    server.serve_forever()


if __name__ == "__main__":
    main()

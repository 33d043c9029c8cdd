#!/usr/bin/env python3
"""The lab's small services and clients (tests/lab/lab.py starts them inside
its namespaces). Python 3 standard library, except `ftp`, which needs
pyftpdlib (Debian's python3-pyftpdlib).

    services.py banner PORT LOG          SSH-like banner server
    services.py smtp PORT LOG            SMTP-like listener (enough for curl smtp://)
    services.py peer PORT LOG            P2P-like peer (a BitTorrent-like handshake)
    services.py ftp PORT ROOT LOG        pyftpdlib, active and passive (30000-30009)
    services.py p2p LOG PEER...          the P2P-like node: one connection per peer
    services.py ftp-active LOG SERVER N  N active-mode RETRs whose data never connects

Servers log one JSON line per connection with the application bytes they
sent and received (what went into and came out of the socket is the TCP
payload the sensor counts), and the client's address and port: the ground
truth of those sessions. Servers print "ready" on stdout once listening.
"""

import json
import socket
import sys
import threading
import time

BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
HANDSHAKE = b"\x13BitTorrent protocol" + bytes(8) + bytes(range(20)) + b"-FL0001-" + b"lab-peer-id!"


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def write(self, **fields):
        with self.lock:
            self.f.write(json.dumps(fields, sort_keys=True) + "\n")


def listen(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(256)
    return s


def peer_of(conn):
    host, port = conn.getpeername()[:2]
    if host.startswith("::ffff:"):
        host = host[7:]
    return host, port


def local_of(conn):
    host, port = conn.getsockname()[:2]
    if host.startswith("::ffff:"):
        host = host[7:]
    return host, port


class Counted:
    """A connection that counts what it sends and receives."""

    def __init__(self, conn):
        self.conn = conn
        self.sent = 0
        self.received = 0
        self.buf = b""

    def send(self, data):
        self.conn.sendall(data)
        self.sent += len(data)

    def recv(self, n=65536):
        data = self.conn.recv(n)
        self.received += len(data)
        return data

    def line(self):
        while b"\n" not in self.buf:
            data = self.recv()
            if not data:
                line, self.buf = self.buf, b""
                return line
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def exactly(self, n):
        while len(self.buf) < n:
            data = self.recv()
            if not data:
                break
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def serve(port, log, handler, kind):
    s = listen(port)
    print("ready", flush=True)
    while True:
        conn, _ = s.accept()

        def run(conn=conn):
            c = Counted(conn)
            client = peer_of(conn)
            server = local_of(conn)
            error = ""
            try:
                conn.settimeout(5)
                handler(c)
            except OSError as e:
                error = str(e)
            finally:
                try:
                    conn.close()
                except OSError:
                    pass
            log.write(kind=kind, client_ip=client[0], client_port=client[1],
                      server_ip=server[0], server_port=server[1], server_sent=c.sent,
                      server_received=c.received, error=error, time=time.time())

        threading.Thread(target=run, daemon=True).start()


def banner(c):
    # An SSH server speaks first; the client answers with its own banner.
    c.send(BANNER)
    c.line()


def smtp(c):
    c.send(b"220 mail.lab.test ESMTP ready\r\n")
    while True:
        line = c.line()
        if not line:
            return
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            c.send(b"250-mail.lab.test\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            c.send(b"354 end with .\r\n")
            while True:
                body = c.line()
                if not body or body in (b".\r\n", b".\n"):
                    break
            c.send(b"250 2.0.0 queued as LAB1\r\n")
        elif verb == b"QUIT":
            c.send(b"221 bye\r\n")
            return
        else:
            c.send(b"250 ok\r\n")


def peer(c):
    # BitTorrent-like: handshakes both ways, a bitfield, an interested
    # message, then one piece; the peer closes.
    got = c.exactly(len(HANDSHAKE))
    if len(got) != len(HANDSHAKE):
        return
    c.send(HANDSHAKE)
    c.send((9).to_bytes(4, "big") + b"\x05" + b"\xff" * 8)
    c.exactly(5)
    c.send((1 + 8 + 1200).to_bytes(4, "big") + b"\x07" + bytes(8) + bytes(range(200)) * 6)


def p2p(log_path, peers):
    """Connects to every peer in order (0.5 s connect timeout), one
    connection each, and logs each attempt with its local port."""
    log = Log(log_path)
    for p in peers:
        host, port = p.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        s.bind(("0.0.0.0", 0))
        local_port = s.getsockname()[1]
        c = Counted(s)
        result = "ok"
        try:
            s.connect((host, int(port)))
            c.send(HANDSHAKE)
            c.exactly(len(HANDSHAKE) + 13)
            c.send((1).to_bytes(4, "big") + b"\x02")
            while c.recv():
                pass
        except socket.timeout:
            result = "timeout"
        except ConnectionRefusedError:
            result = "refused"
        except OSError as e:
            result = f"error: {e}"
        finally:
            s.close()
        log.write(kind="p2p", client_port=local_port, server_ip=host, server_port=int(port),
                  result=result, client_sent=c.sent, client_received=c.received)


def ftp_active(log_path, server, tries):
    """An FTP client behind a firewall that drops inbound connections:
    `tries` active-mode RETRs (PORT, then RETR), each waiting 1 s for the
    server's data connection, which never arrives; each on its own control
    connection (the server drops a pending data connection when its control
    connection goes)."""
    import ftplib

    class Client(ftplib.FTP):
        # The port the PORT command announces (pyftpdlib connects before it
        # answers the PORT, so the command itself times out here).
        def sendport(self, host, port):
            self.data_port = port
            return super().sendport(host, port)

    log = Log(log_path)
    for _ in range(tries):
        f = Client()
        f.connect(server, 21, timeout=1.0)
        f.login("lab", "lab")
        f.set_pasv(False)
        control_port = f.sock.getsockname()[1]
        result = "ok"
        try:
            f.retrbinary("RETR ftp3.bin", lambda b: None)
        except (OSError, ftplib.Error) as e:
            result = f"failed: {e}"
        try:
            f.close()
        except OSError:
            pass
        log.write(kind="ftp_active", control_port=control_port,
                  data_port=getattr(f, "data_port", 0), result=result)


def ftp(port, root, log_path):
    import logging

    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    logging.basicConfig(filename=log_path, level=logging.INFO,
                        format="%(asctime)s %(message)s")
    auth = DummyAuthorizer()
    auth.add_user("lab", "lab", root, perm="elradfmw")
    auth.add_anonymous(root)

    class Handler(FTPHandler):
        passive_ports = range(30000, 30010)
        permit_foreign_addresses = False

    Handler.authorizer = auth
    server = FTPServer(("0.0.0.0", port), Handler)
    print("ready", flush=True)
    server.serve_forever(handle_exit=False)


def main(argv):
    what = argv[1]
    if what in ("banner", "smtp", "peer"):
        handler = {"banner": banner, "smtp": smtp, "peer": peer}[what]
        serve(int(argv[2]), Log(argv[3]), handler, what)
    elif what == "ftp":
        ftp(int(argv[2]), argv[3], argv[4])
    elif what == "p2p":
        p2p(argv[2], argv[3:])
    elif what == "ftp-active":
        ftp_active(argv[2], argv[3], int(argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

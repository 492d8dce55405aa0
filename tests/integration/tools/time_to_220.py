#!/usr/bin/env python3
"""time_to_220.py ADDRESS PORT COUNT parallel|sequential [GIVE_UP_S]

A remote SMTP client for the greeting lab: opens COUNT connections to
ADDRESS:PORT, all at once (parallel) or one after the other (sequential), and
times each from the start of connect() to the end of the server's first line.
Prints one line per connection, then "median SECONDS". Exits 1 when a
connection fails or its first line is not a 220 greeting, so a broken lab is
never mistaken for a slow or a fast one.
"""
import socket
import statistics
import sys
import threading
import time


def time_one(address, port, give_up_s):
    """Seconds to the end of the first line, and that line."""
    start = time.monotonic()
    with socket.create_connection((address, port), timeout=give_up_s) as connection:
        received = b""
        while b"\n" not in received:
            chunk = connection.recv(512)
            if not chunk:
                break
            received += chunk
        elapsed = time.monotonic() - start
        line = received.split(b"\n", 1)[0].decode("ascii", "replace").rstrip("\r")
        # Say goodbye so the greeter does not wait for input.
        try:
            connection.sendall(b"QUIT\r\n")
        except OSError:
            pass
    return elapsed, line


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[4] not in ("parallel", "sequential"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    address, port, count, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    give_up_s = float(sys.argv[5]) if len(sys.argv) == 6 else 60.0
    results = [None] * count

    def run(index):
        try:
            results[index] = time_one(address, port, give_up_s)
        except OSError as error:
            results[index] = (None, f"error: {error}")

    if mode == "parallel":
        threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for index in range(count):
            run(index)

    ok = True
    for index, (elapsed, line) in enumerate(results):
        shown = "-" if elapsed is None else f"{elapsed:.3f} s"
        print(f"connection {index + 1}: {shown}  {line!r}")
        if elapsed is None or not line.startswith("220"):
            ok = False
    if not ok:
        print("median none")
        return 1
    print(f"median {statistics.median(elapsed for elapsed, _ in results):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

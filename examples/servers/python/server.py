"""A beats-ack.v1 server (PROTOCOL.md) with the websockets library: appends every
event it receives to a file, fsyncs it, and only then acknowledges.
Usage: python3 server.py [HOST:PORT] [FILE]   (port 0 picks a free port)"""
import asyncio
import os
import signal
import sys

import websockets

PROTOCOL = "beats-ack.v1"


def events(msg):
    """frame: batch ends each event with a newline; frame: event sends one."""
    return msg.split(b"\n")[:-1] if msg.endswith(b"\n") else [msg]


def open_output(path):
    """Opens path for appending, less any incomplete last line a crash left:
    it was never acknowledged, so the client sends it again."""
    out = open(path, "ab+")
    end = out.seek(0, os.SEEK_END)
    while end > 0:
        start = max(0, end - 65536)
        out.seek(start)
        newline = out.read(end - start).rfind(b"\n")
        end = start + newline + 1 if newline >= 0 else start
        if newline >= 0:
            break
    out.truncate(end)
    folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    os.fsync(folder)  # so that a new file's name survives a power cut too
    os.close(folder)
    return out


def handler(out):
    async def serve(ws):
        received = 0  # data messages taken on this connection: each counts from 0
        more = asyncio.Event()

        async def acknowledge():  # one ack covers all that arrived during the fsync
            try:
                while True:
                    await more.wait()
                    more.clear()
                    n = received
                    out.flush()
                    await asyncio.to_thread(os.fsync, out.fileno())
                    await ws.send('{"ack":%d}' % n)  # stored durably: now it is safe to ack
            except OSError as err:  # not stored: end the connection, the client sends it again
                await ws.close(1011, "cannot store: %s" % err.strerror)

        acker = asyncio.create_task(acknowledge()) if ws.subprotocol == PROTOCOL else None
        try:
            async for msg in ws:  # websockets answers pings and close frames itself
                for event in events(msg.encode() if isinstance(msg, str) else msg):
                    out.write(event + b"\n")  # the real work goes here: store the event
                received += 1
                more.set()
        except websockets.ConnectionClosed:
            pass  # what was not acknowledged, the client sends again
        finally:
            if acker:
                acker.cancel()
                await asyncio.gather(acker, return_exceptions=True)
    return serve


async def main(listen, path):
    host, _, port = listen.rpartition(":")
    out, stop = open_output(path), asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with websockets.serve(handler(out), host, int(port), subprotocols=[PROTOCOL], max_size=64 << 20) as server:
        print("listening on ws://%s:%d/, appending to %s" % (*server.sockets[0].getsockname()[:2], path), flush=True)
        await stop  # then each connection gets a close frame (1001, going away)
    out.close()


if __name__ == "__main__":
    listen = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8080"
    asyncio.run(main(listen, sys.argv[2] if len(sys.argv) > 2 else "events.log"))

#!/usr/bin/env python3
"""First measurement of chatd's memory per open stream and CPU per emitted character.

Starts chatd (demo provider, the built-in upstream at ~30 ms per token, so streams stay
open for seconds), opens N concurrent POST /api/chat streams from one asyncio client, and
reads chatd's RSS and CPU time from /proc while they are open and after they finish.

    python3 bench/first_measure.py [--streams 1000] [--pace adaptive]

Bounded: N streams, each ends by itself; the whole run stops after --timeout seconds.
"""
import argparse, asyncio, json, os, re, subprocess, sys, threading, time

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

async def one_stream(port, body, stats, opened):
    r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    w.write(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    await w.drain()
    data = b""
    first = True
    while True:
        chunk = await r.read(65536)
        if not chunk:
            break
        if first:
            opened.append(time.monotonic())
            first = False
        data += chunk
    w.close()
    stats["deltas"] += data.count(b"event: delta\n")
    stats["done"] += data.count(b"event: done\n")
    stats["errors"] += data.count(b"event: error\n")

async def main_async(a, port, pid):
    body = json.dumps({"messages": [{"role": "user", "content": "show me emoji"}]}).encode()
    stats = {"deltas": 0, "done": 0, "errors": 0}
    opened = []
    base_rss = rss_kb(pid)
    cpu0 = cpu_s(pid)
    t0 = time.monotonic()
    tasks = [asyncio.create_task(one_stream(port, body, stats, opened)) for _ in range(a.streams)]
    # Wait until every stream has received its first bytes, then sample RSS while all are open.
    while len(opened) < a.streams and time.monotonic() - t0 < a.timeout:
        await asyncio.sleep(0.05)
    open_rss = rss_kb(pid)
    await asyncio.wait_for(asyncio.gather(*tasks), a.timeout)
    cpu1 = cpu_s(pid)
    return base_rss, open_rss, cpu1 - cpu0, stats, time.monotonic() - t0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--pace", default="adaptive")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--bin", default="build/chatd")
    a = ap.parse_args()
    env = dict(os.environ, CHATD_LISTEN="127.0.0.1:0", CHATD_PACE=a.pace, CHATD_WORKERS="2")
    p = subprocess.Popen([os.path.abspath(a.bin)], env=env,
                         stderr=subprocess.PIPE, text=True, cwd="/")
    port = None
    for line in p.stderr:
        m = re.search(r"listening on http://[^ ]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    # chatd logs a line per request: keep reading its stderr or the pipe fills and blocks it.
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    try:
        base, opened, cpu, st, wall = asyncio.run(main_async(a, port, p.pid))
    finally:
        p.terminate()
        t_stop = time.monotonic(); p.wait(60); print(f"shutdown took {time.monotonic() - t_stop:.1f}s")
    chars = st["deltas"]
    print(f"streams={a.streams} pace={a.pace} done={st['done']} errors={st['errors']} wall={wall:.1f}s")
    print(f"rss: baseline {base} KiB, with {a.streams} open streams {opened} KiB "
          f"-> {(opened - base) / a.streams:.1f} KiB per open stream (includes the in-process demo upstream's side)")
    print(f"cpu: {cpu:.2f} s for {chars} characters -> {cpu / max(chars, 1) * 1e6:.2f} us per emitted character")

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks that chatd's server modules include no header of a layer above their own, and
that includes within a layer form no cycle. Every module must be listed. Exit 0 when the
layering holds; else one line per violation and exit 1.

    scripts/check-layers.py [server-dir]"""

import os
import re
import sys

# Lowest first. A module is a .c/.h pair named by its stem (a header-only module too).
LAYERS = [
    ("leaves", """lim buf utf8 jsonw jsonv seg pace sse_encode sse_parse ndjson oai loop log
                  metrics auth cfg quota redact req prov prov_openai prov_anthropic prov_ollama up env"""),
    ("services", "sched resp probe demo answers"),
    ("store", "store store_mem"),
    ("stream sides and formats", "emit encode"),
    ("handlers", "chat reader files"),
    ("router", "router"),
    ("worker", "worker"),
    ("main", "main"),
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "server")
    level = {}
    for i, (_, mods) in enumerate(LAYERS):
        for m in mods.split():
            level[m] = i
    problems = []
    graph = {}
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            mod = f.rsplit(".", 1)[0]
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            if mod not in level:
                problems.append("%s: module %s has no layer (add it to scripts/check-layers.py)" % (rel, mod))
                continue
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            for inc in INCLUDE.findall(text):
                dep = os.path.basename(inc).rsplit(".", 1)[0]
                if dep == mod:
                    continue
                if dep not in level:
                    problems.append("%s: includes %s, which has no layer" % (rel, inc))
                    continue
                if level[dep] > level[mod]:
                    problems.append("%s (%s) includes %s (%s, a higher layer)"
                                    % (rel, LAYERS[level[mod]][0], inc, LAYERS[level[dep]][0]))
                graph.setdefault(mod, set()).add(dep)
    problems += cycles(graph)
    for p in problems:
        print("check-layers: " + p)
    print("check-layers: %d modules in %d layers, %s"
          % (len(level), len(LAYERS), "ok" if not problems else "%d problems" % len(problems)))
    return 1 if problems else 0


def cycles(graph):
    """Modules that include each other, directly or through others."""
    found, state = [], {}

    def visit(m, path):
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                found.append("include cycle: " + " -> ".join(path[path.index(d):] + [d]))
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return found


if __name__ == "__main__":
    sys.exit(main(sys.argv))

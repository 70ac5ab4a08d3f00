#!/usr/bin/env python3
"""Checks that chatd's server modules include no header of a layer above their own, and
that includes within a layer form no cycle. Every module must be listed. Prints one line
per violation and "layers: N passed, M failed" (the checker's self-test on a planted
tree, then the real tree); exit 0 when both pass.

    scripts/check-layers.py [server-dir]"""

import os
import re
import sys

# Lowest first. A module is a .c/.h pair named by its stem (a header-only module too).
LAYERS = [
    ("leaves", """lim buf utf8 jsonw jsonv seg pace sse_encode sse_parse ndjson oai anth_out anth_in loop log
                  metrics auth cfg quota redact req req_msg prov prov_openai prov_anthropic xlat_anthropic prov_ollama xlat_ollama up env
                  rconn_url rconn"""),
    ("services", "sched resp route probe demo answers ask gen tok"),
    ("store", "store store_mem rlog repl store_redis"),
    ("stream sides and formats", "emit encode"),
    ("handlers", "chat reader files"),
    ("router", "router"),
    ("worker", "worker"),
    ("main", "main"),
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def check(root):
    """The violations in the tree under root, one string each."""
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
    return problems + cycles(graph)


def self_test():
    """A planted tree with one of each violation: the checker must find all three."""
    import tempfile
    planted = {
        "buf.c": '#include "buf.h"\n#include "router.h"\n',  # a leaf reaching up
        "chat.h": '#include "reader.h"\n',                     # a cycle in one layer
        "reader.h": '#include "chat.h"\n',
        "mystery.c": '#include "buf.h"\n',                     # a module with no layer
        "emit.c": '#include "store.h"\n#include "seg.h"\n',  # fine
    }
    with tempfile.TemporaryDirectory() as d:
        for name, text in planted.items():
            with open(os.path.join(d, name), "w", encoding="utf-8") as fh:
                fh.write(text)
        found = check(d)
    want = ["buf.c (leaves) includes router.h", "include cycle: chat -> reader -> chat",
            "mystery.c: module mystery has no layer"]
    missing = [w for w in want if not any(f.startswith(w) for f in found)]
    extra = len(found) - len(want)
    for m in missing:
        print("check-layers: self-test: not detected: " + m)
    if extra:
        print("check-layers: self-test: %d unexpected findings: %s" % (extra, found))
    return not missing and not extra


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "server")
    ok_self = self_test()
    problems = check(root)
    for p in problems:
        print("check-layers: " + p)
    print("check-layers: %d modules in %d layers, %s"
          % (sum(len(m.split()) for _, m in LAYERS), len(LAYERS),
             "ok" if not problems else "%d problems" % len(problems)))
    passed = int(ok_self) + int(not problems)
    print("layers: %d passed, %d failed" % (passed, 2 - passed))
    return 0 if passed == 2 else 1


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

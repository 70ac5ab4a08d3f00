# bench/table.awk — turns the RESULT/SKIP lines bench/run.sh collected into the markdown
# report: the comparison table, the targets met or missed, and the per-run details.
# Variables: tokens, tb (token bytes), rate (tokens/s), ramp (connections/s), base_cps.

function field(line, key,    i, kv, n, parts) {
    n = split(line, parts, " ")
    for (i = 1; i <= n; i++) {
        split(parts[i], kv, "=")
        if (kv[1] == key)
            return substr(parts[i], length(key) + 2)
    }
    return ""
}

function f3(x) { return sprintf("%.3f", x) }
function f2(x) { return sprintf("%.2f", x) }

function errors_of(k,    s, e, i, n, names) {
    n = split("connect http proto eof timeout stream_error mismatch incomplete id", names, " ")
    s = ""
    for (i = 1; i <= n; i++) {
        e = V[k, "err_" names[i]] + 0
        if (e > 0)
            s = s (s == "" ? "" : ", ") names[i] " " e
    }
    return V[k, "errors"] + 0 == 0 ? "0" : V[k, "errors"] " (" s ")"
}

function added(k, q) {
    if (SYS[k] == "direct")
        return "—"
    if (!have("direct", NN[k]))
        return "n/a"
    return f3(added_v(SYS[k], NN[k], q))
}

function added_v(sys, n, q) {
    return V[sys SUBSEP n, "ttfc_" q "_ms"] - V["direct" SUBSEP n, "ttfc_" q "_ms"]
}

function have(sys, n) { return V[sys SUBSEP n, "seen"] }

function verdict(ok, value, limit, unit) {
    if (ok)
        return "**met** (" value " " unit ", limit " limit " " unit ")"
    return "**not met**: " value " " unit " against " limit " " unit
}

function row(k,    paced, rss, cpu, sys) {
    sys = SYS[k]
    paced = sys ~ /^chatd/ ? f2(V[k, "paced_p99_ms"]) : "—"
    cpu = sys == "direct" ? "—" : sprintf("%.4f", V[k, "cpu_per_1k_tokens_s"])
    rss = sys == "direct" ? "—" : sprintf("%.1f", V[k, "rss_per_stream_kib"])
    if (sys != "direct" && V[k, "open"] + 0 < NN[k] + 0)
        rss = rss " (" V[k, "open"] " open)"
    printf "| %s | %s | %s / %s | %s / %s | %s | %s | %s | %s | %s | %s |\n", sys, NN[k],
        f3(V[k, "ttfc_p50_ms"]), f3(V[k, "ttfc_p99_ms"]), added(k, "p50"), added(k, "p99"),
        f2(V[k, "gap_p99_ms"]), paced, cpu, rss, errors_of(k), V[k, "exact"]
}

function detail(k,    other) {
    other = V[k, "busy_s"] - V[k, "cpu_s"] - V[k, "mock_cpu_s"] - V[k, "load_cpu_s"]
    if (other < 0)
        other = 0
    OTHER += other
    WALL += V[k, "wall_s"]
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", SYS[k], NN[k],
        V[k, "wall_s"], V[k, "cps"], V[k, "tokens"], f2(V[k, "cpu_s"]), f2(V[k, "mock_cpu_s"]),
        f2(V[k, "load_cpu_s"]), f2(other), V[k, "open"], V[k, "listen_drops"]
}

# A disturbed direct run (its p99 above the relay's own) makes "added" negative: then the
# verdict uses an upper bound instead, the relay's p99 over the direct run's p50.
function added_p99(sys,    a) {
    a = added_v(sys, 1000, "p99")
    return a >= 0 ? a : V[sys SUBSEP 1000, "ttfc_p99_ms"] - V["direct" SUBSEP 1000, "ttfc_p50_ms"]
}

function floor_note(sys) {
    if (added_v(sys, 1000, "p99") >= 0)
        return ""
    return "; the direct run's p99 (" f3(V["direct" SUBSEP 1000, "ttfc_p99_ms"]) " ms) was disturbed, " \
        "so this is the upper bound p99 − direct p50"
}

function target_latency(    a, lim, ng) {
    if (!have("chatd-off", 1000) || !have("direct", 1000)) {
        print "- chatd, pacing off, 1,000 streams: added first-character latency p99 ≤ 0.25 ms — not measured"
        return
    }
    a = added_p99("chatd-off")
    print "- chatd, pacing off, 1,000 streams: added first-character latency p99 ≤ 0.25 ms — " \
        verdict(a <= 0.25, f3(a), "0.25", "ms") floor_note("chatd-off")
    if (!have("nginx", 1000)) {
        print "- … and ≤ 1.5 × nginx's added latency — nginx not measured"
        return
    }
    ng = added_p99("nginx")
    lim = 1.5 * ng
    print "- … and ≤ 1.5 × nginx's added p99 (" f3(ng) " ms" floor_note("nginx") ") — " \
        verdict(a <= lim, f3(a), f3(lim), "ms")
}

function target_scale(    k, lim, ok) {
    k = "chatd-adaptive" SUBSEP 9000
    if (!have("chatd-adaptive", 9000)) {
        print "- chatd, adaptive pacing, 9,000 streams — not measured"
        return
    }
    ok = V[k, "errors"] + 0 == 0 && V[k, "exact"] == "yes"
    print "- chatd, adaptive, 9,000 streams: zero lost or duplicated characters — " \
        (ok ? "**met** (every stream complete and byte-exact)" : "**not met**: " errors_of(k) " failed streams, byte-exact " V[k, "exact"])
    lim = 1000 / base_cps + 10
    print "- … p99 paced gap within the pacer's target (1000/" base_cps " ms) + 10 ms — " \
        verdict(V[k, "paced_p99_ms"] + 0 <= lim, f2(V[k, "paced_p99_ms"]), f2(lim), "ms")
    ok = V[k, "rss_per_stream_kib"] + 0 <= 32 && V[k, "open"] + 0 == 9000
    print "- … RSS ≤ 32 KiB per stream — " verdict(ok, sprintf("%.1f", V[k, "rss_per_stream_kib"]), "32", "KiB") \
        (V[k, "open"] + 0 < 9000 ? " (only " V[k, "open"] " of 9,000 streams were open at once)" : "")
}

# Redis mode against in-process mode, pacing off, at 1,000 streams (chatd's CPU includes
# the redis-server's).
function target_redis(    k0, k1, a, r, c) {
    k0 = "chatd-off" SUBSEP 1000
    k1 = "chatd-redis-off" SUBSEP 1000
    if (!have("chatd-off", 1000) || !have("chatd-redis-off", 1000)) {
        print "- Redis mode, 1,000 streams — not measured"
        return
    }
    a = V[k1, "ttfc_p99_ms"] - V[k0, "ttfc_p99_ms"]
    print "- Redis mode, pacing off, 1,000 streams: first-character p99 ≤ 0.5 ms over in-process mode — " \
        verdict(a <= 0.5, f3(a), "0.5", "ms") " (" f2(V[k1, "ttfc_p99_ms"]) " against " f2(V[k0, "ttfc_p99_ms"]) " ms)"
    r = V[k0, "cpu_per_1k_tokens_s"] > 0 ? V[k1, "cpu_per_1k_tokens_s"] / V[k0, "cpu_per_1k_tokens_s"] : 0
    print "- … CPU per token (chatd + redis-server) ≤ 1.3× in-process mode's — " \
        verdict(r <= 1.3, sprintf("%.2f×", r), "1.3×", "")
    c = V[k1, "redis_cmds_per_stream"]
    print "- … Redis commands per stream in the order of its loop passes, not its characters: " \
        c " commands per stream, for " tokens " upstream tokens and " sprintf("%.0f", V[k1, "chars"] / 1000) " characters per stream — " \
        (c + 0 <= tokens + 16 ? "**met**" : "**not met**")
}

# The model map against the one-upstream shorthand, pacing off, at 1,000 streams.
function target_routing(    k0, k1, a, b, r) {
    k0 = "chatd-off" SUBSEP 1000
    k1 = "chatd-routed-off" SUBSEP 1000
    if (!have("chatd-off", 1000) || !have("chatd-routed-off", 1000)) {
        print "- Routing through a model map, 1,000 streams — not measured"
        return
    }
    a = V[k1, "ttfc_p50_ms"] - V[k0, "ttfc_p50_ms"]
    b = V[k1, "ttfc_p99_ms"] - V[k0, "ttfc_p99_ms"]
    r = V[k0, "cpu_per_1k_tokens_s"] > 0 ? V[k1, "cpu_per_1k_tokens_s"] / V[k0, "cpu_per_1k_tokens_s"] : 0
    print "- Routing (a 40-entry model map, two keys in turn, a fallback: every answer held to its first character), pacing off, 1,000 streams: first character p50 " \
        sprintf("%+.3f", a) " ms, p99 " sprintf("%+.3f", b) " ms, CPU per token " sprintf("%.2f×", r) \
        " of the one-upstream run; nothing measurable means within this page's run-to-run spread (p50 ±0.3 ms, CPU ±15 %) — " \
        (a <= 0.3 && r <= 1.15 && V[k1, "errors"] + 0 == 0 && V[k1, "exact"] == "yes" ? "**met**" : "**not met**")
}

# The HTTP/2 upstream: its largest run complete and byte-exact; at 1,000 streams against
# the HTTP/1.1 upstream (chatd-off).
function target_h2(    i, n, big, k, ok, r) {
    big = 0
    for (i = 1; i <= NNS; i++)
        if (have("chatd-h2-off", NLIST[i]) && NLIST[i] + 0 > big)
            big = NLIST[i] + 0
    if (!big) {
        print "- HTTP/2 upstream — not measured"
        return
    }
    k = "chatd-h2-off" SUBSEP big
    ok = V[k, "errors"] + 0 == 0 && V[k, "exact"] == "yes" && V[k, "open"] + 0 == big
    print "- HTTP/2 upstream (TLS, multiplexed), pacing off: " big " concurrent streams byte-exact — " \
        (ok ? "**met**" : "**not met**: " errors_of(k) " failed streams, byte-exact " V[k, "exact"] ", " V[k, "open"] " open at once") \
        " (" V[k, "open"] " open at once, RSS " sprintf("%.1f", V[k, "rss_per_stream_kib"]) " KiB per stream; 20,000 would need more than this machine's open-file limit: one client socket per stream, plus the load client's own)"
    if (have("chatd-h2-off", 1000) && have("chatd-off", 1000) && V["chatd-off" SUBSEP 1000, "cpu_per_1k_tokens_s"] > 0) {
        r = V["chatd-h2-off" SUBSEP 1000, "cpu_per_1k_tokens_s"] / V["chatd-off" SUBSEP 1000, "cpu_per_1k_tokens_s"]
        print "- … at 1,000 streams against the HTTP/1.1 upstream: CPU per token " sprintf("%.2f×", r) \
            " (TLS included), first character p99 " f3(V["chatd-h2-off" SUBSEP 1000, "ttfc_p99_ms"]) " against " \
            f3(V["chatd-off" SUBSEP 1000, "ttfc_p99_ms"]) " ms"
    }
}

function target_cpu(    i, n, s, sys, r, line) {
    for (s = 1; s <= 2; s++) {
        sys = s == 1 ? "chatd-off" : "chatd-adaptive"
        line = ""
        for (i = 1; i <= NNS; i++) {
            n = NLIST[i]
            if (!have(sys, n) || !have("nginx", n) || V["nginx" SUBSEP n, "cpu_per_1k_tokens_s"] <= 0)
                continue
            r = V[sys SUBSEP n, "cpu_per_1k_tokens_s"] / V["nginx" SUBSEP n, "cpu_per_1k_tokens_s"]
            line = line (line == "" ? "" : "; ") n " streams: " sprintf("%.1f", r) "× " \
                (r <= 2 ? "**met**" : "**not met**")
        }
        print "- " sys " CPU per upstream token ≤ 2× nginx's — " (line == "" ? "not measured" : line)
    }
}

/^RESULT / || /^SKIP / {
    sys = field($0, "sys")
    n = field($0, "n")
    k = sys SUBSEP n
    if (!((sys, n) in ORDER_SEEN)) {
        ORDER_SEEN[sys, n] = 1
        ORDER[++NK] = k
        SYS[k] = sys
        NN[k] = n
    }
    if (!(n in NSEEN)) {
        NSEEN[n] = 1
        NLIST[++NNS] = n
    }
    if ($1 == "SKIP") {
        SKIPPED[k] = field($0, "why")
        next
    }
    for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        V[k, kv[1]] = substr($i, length(kv[1]) + 2)
    }
    V[k, "seen"] = 1
}

END {
    printf "Workload: one POST and one connection per stream, opened at %s/s; the mock answers " \
        "%s tokens of %s bytes (mixed ASCII, CJK, emoji ZWJ sequences, flags, combining marks; " \
        "a character may straddle two tokens) at %s tokens/s per stream, the first at once. " \
        "First-character latency is measured by the load client from its connect() to the first " \
        "character; \"added\" is over the direct run at the same count. For the peers a " \
        "\"character\" is an upstream token (they relay chunks); chatd emits one grapheme per " \
        "event. A paced gap is a gap before a character that had already reached the server " \
        "(from the mock's schedule): the gaps a pacer is responsible for.\n\n", ramp, tokens, tb, rate
    print "| system | streams | first char p50 / p99 ms | added p50 / p99 ms | gap p99 ms | paced gap p99 ms | CPU s / 1k tokens | RSS KiB / open stream | errors | byte-exact |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
    for (i = 1; i <= NK; i++)
        if (V[ORDER[i], "seen"])
            row(ORDER[i])
    for (i = 1; i <= NK; i++)
        if (ORDER[i] in SKIPPED) {
            gsub(/_/, " ", SKIPPED[ORDER[i]])
            print "\nSkipped " SYS[ORDER[i]] " at " NN[ORDER[i]] " streams: " SKIPPED[ORDER[i]] "."
        }
    print "\nTargets:\n"
    target_latency()
    target_scale()
    target_cpu()
    target_redis()
    target_routing()
    target_h2()
    print "\nPer run (CPU seconds; \"other\" is the rest of the machine's busy time: other work on the machine and " \
        "kernel time not charged to a process; \"listen drops\": connections the kernel dropped on a full " \
        "listen queue during the run, machine-wide):\n"
    print "| system | streams | wall s | chars/s | upstream tokens | system CPU | mock CPU | load CPU | other CPU | max open | listen drops |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= NK; i++)
        if (V[ORDER[i], "seen"])
            detail(ORDER[i])
    if (WALL > 0)
        printf "\nNoise: other processes used %.1f CPU-seconds over %.0f s of measurement (%.2f of the machine's cores on average).\n", OTHER, WALL, OTHER / WALL
}

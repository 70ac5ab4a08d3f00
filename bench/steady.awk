# bench/steady.awk — the steady-state scenario's report from the STEADY lines bench/run.sh
# collected: per repetition, the new requests' first character (and what it adds over the
# direct run of the same repetition), the server's CPU while they arrived, errors; then
# each system's median over the repetitions and chatd against nginx.
# Variables: n (open streams), new (new requests), nrate (their rate /s), rate (tokens/s).

function field(line, key,    i, kv, k, parts) {
    k = split(line, parts, " ")
    for (i = 1; i <= k; i++) {
        split(parts[i], kv, "=")
        if (kv[1] == key)
            return substr(parts[i], length(key) + 2)
    }
    return ""
}

function median(arr, m,    i, j, t, a) {
    for (i = 1; i <= m; i++) a[i] = arr[i]
    for (i = 1; i <= m; i++)
        for (j = i + 1; j <= m; j++)
            if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}

/^THRU / {
    s = field($0, "sys")
    TS[++NT] = s
    TC[s] = field($0, "chars"); TW[s] = field($0, "wall_s"); TCPU[s] = field($0, "cpu_s")
    TE[s] = field($0, "exact"); TERR[s] = field($0, "errors"); TN[s] = field($0, "n")
    next
}

/^STEADY / {
    s = field($0, "sys"); r = field($0, "rep")
    if (!(s in SEEN)) { SEEN[s] = 1; SYSL[++NS] = s }
    if (r + 0 > NREP) NREP = r + 0
    P50[s, r] = field($0, "ttfc_p50_ms"); P99[s, r] = field($0, "ttfc_p99_ms")
    CPU[s, r] = field($0, "cpu_s"); ERR[s, r] = field($0, "errors")
    OERR[s, r] = field($0, "open_errors"); EX[s, r] = field($0, "exact") "/" field($0, "open_exact")
    HAVE[s, r] = 1
}

END {
    if (NT) {
        print ""
        print "### Throughput, pacing off"
        print ""
        print "A second mock sends as fast as it can (tokens of 32 bytes, no pause); a few long " \
            "streams through each system. For nginx a \"character\" is a relayed token; chatd " \
            "parses, segments and re-emits one event per grapheme cluster."
        print ""
        print "| system | streams | characters (tokens for nginx) | wall s | per second | system CPU s | per CPU-second | errors | byte-exact |"
        print "|---|---:|---:|---:|---:|---:|---:|---|---|"
        for (i = 1; i <= NT; i++) {
            s = TS[i]
            printf "| %s | %s | %s | %s | %.0f | %s | %.0f | %s | %s |\n", s, TN[s], TC[s], TW[s],
                (TW[s] > 0 ? TC[s] / TW[s] : 0), TCPU[s], (TCPU[s] > 0 ? TC[s] / TCPU[s] : 0), TERR[s], TE[s]
        }
        if (("chatd-off" in TC) && TCPU["chatd-off"] > 0) {
            r = TC["chatd-off"] / TCPU["chatd-off"]
            printf "\n- chatd, pacing off: re-emitted characters per CPU-second ≥ 1,000,000 (one core) — %s (%.0f)\n",
                ((r >= 1000000 && TE["chatd-off"] == "yes") ? "**met**" : "**not met**"), r
        }
    }
    if (!NS)
        exit
    print ""
    print "### Steady state: new requests among " n " open streams"
    print ""
    printf "%d streams are opened and keep receiving a token every %.0f ms; once they are all open, " \
        "%d new requests arrive open-loop at %d/s (each answered with 2 tokens), and their " \
        "first character is timed from connect(). Each repetition starts every system afresh, " \
        "the systems interleaved; \"added\" is over the direct run of the same repetition; " \
        "the CPU is the server's (nginx: all its processes) while the new requests ran.\n\n",
        n, 1000 / rate, new, nrate
    print "| system | repetition | first char p50 / p99 ms | added p50 / p99 ms | server CPU s | errors (new / open) | byte-exact (new / open) |"
    print "|---|---:|---:|---:|---:|---|---|"
    for (i = 1; i <= NS; i++) {
        s = SYSL[i]
        for (r = 1; r <= NREP; r++) {
            if (!HAVE[s, r]) continue
            ad = "—"
            if (s != "direct" && HAVE["direct", r]) {
                a50 = P50[s, r] - P50["direct", r]; a99 = P99[s, r] - P99["direct", r]
                ad = sprintf("%.3f / %.3f", a50, a99)
                A50[s, ++NA[s]] = a50; A99[s, NA[s]] = a99
            }
            printf "| %s | %d | %.3f / %.3f | %s | %s | %s / %s | %s |\n", s, r, P50[s, r], P99[s, r],
                ad, (s == "direct" ? "—" : sprintf("%.2f", CPU[s, r])), ERR[s, r], OERR[s, r], EX[s, r]
            C[s, ++NC[s]] = CPU[s, r]
        }
    }
    print ""
    for (i = 1; i <= NS; i++) {
        s = SYSL[i]
        if (s == "direct" || !NA[s]) continue
        for (j = 1; j <= NA[s]; j++) { x50[j] = A50[s, j]; x99[j] = A99[s, j]; xc[j] = C[s, j] }
        M50[s] = median(x50, NA[s]); M99[s] = median(x99, NA[s]); MC[s] = median(xc, NA[s])
        printf "- %s, median of %d: added p50 %.3f ms, p99 %.3f ms, CPU %.2f s\n", s, NA[s], M50[s], M99[s], MC[s]
    }
    if (("nginx" in M50) && ("chatd-off" in M50) && M50["nginx"] > 0 && M99["nginx"] > 0) {
        r50 = M50["chatd-off"] / M50["nginx"]; r99 = M99["chatd-off"] / M99["nginx"]
        rc = MC["nginx"] > 0 ? MC["chatd-off"] / MC["nginx"] : 0
        printf "- chatd-off against nginx (medians): added p50 %.1f×, p99 %.1f× (target ≤ 1.2×: %s), CPU %.1f×\n",
            r50, r99, (r50 <= 1.2 && r99 <= 1.2 ? "**met**" : "**not met**"), rc
    }
    if (("chatd-before-off" in M50) && ("chatd-off" in M50))
        printf "- the change measured (chatd-before-off → chatd-off, medians): added p50 %.3f → %.3f ms, " \
            "p99 %.3f → %.3f ms, CPU %.2f → %.2f s\n", M50["chatd-before-off"], M50["chatd-off"],
            M99["chatd-before-off"], M99["chatd-off"], MC["chatd-before-off"], MC["chatd-off"]
}

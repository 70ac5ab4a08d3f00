"""Test strings with their extended grapheme clusters (UAX #29) written out by hand.

Only cases whose segmentation is the same in every Unicode version since 11 are used
(no Indic conjuncts, which changed in 15.1). Each entry: name -> list of clusters; the
text is their concatenation. check_table() is a UAX#29-lite sanity check of the table
itself (code points, no empty clusters, the few rules these strings exercise)."""

ZWJ = "\u200d"
VS16 = "\ufe0f"

CASES = {
    "ascii": list("Hello, world!"),
    "cjk": list("你好，世界。日本語のテキスト"),
    "hangul": ["한", "국", "어", " ", "\u1100\u1161\u11a8", " ", "\u1100\u1161", " ", "\u11a8"],
    "zwj_sequences": [
        "👩" + ZWJ + "💻", " ",
        "👨" + ZWJ + "👩" + ZWJ + "👧" + ZWJ + "👦", " ",
        "🧑🏽" + ZWJ + "🚀", " ",
        "🏳" + VS16 + ZWJ + "🌈",
    ],
    "skin_tones_and_flags": ["👍🏽", "👋🏻", " ", "🇫🇷", "🇯🇵", "🇺🇸", "🇩"],
    "keycaps_and_presentation": ["1" + VS16 + "\u20e3", "#" + VS16 + "\u20e3",
                                 "❤" + VS16, "☺" + VS16, "葛\U000E0100"],
    "tag_flag": ["🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "!"],
    "combining": ["e\u0301", "n\u0303", "a\u0301\u0302\u0323", "o", " ",
                  "c", "a", "f", "e\u0301", " ", "\u0928\u093f"],
    "leading_marks": [ZWJ, "x", "\n", "\u0301", "a", "a" + ZWJ, "b", "a🏽", "\n", "🏽"],
    "crlf_and_newlines": ["a", "\r\n", "b", "\n", "\n", "c", "\r", "d", "\r\n"],
    "quotes_and_controls": list('"quoted" \\ back\\slash\ttab/') +
                           ["\u2028", "\u2029", "\x1b", "[", "0", "m", "\x7f", " ",
                            "\u0085", "\u00a0", "<", "/", "s", ">", "\x01", "'"],
    "astral_letters": ["𝒳", "𝓎", "𝔷", " ", "𠀀", "𓀀"],
    "mixed": ["G", "r", "ü", "ß", "e", ",", " ", "世", "界", "!", " ", "👋🏻", " ",
              "Ç", "a", " ", "n", "a", "i\u0308", "v", "e", " ", "🇫🇷", "\n",
              "👩" + ZWJ + "👩" + ZWJ + "👧", "."],
}

# Used for byte-split upstream reads: multi-byte everywhere, clusters cut across tokens.
SPLIT_CLUSTERS = ["h", "é", "l", " ", "👩" + ZWJ + "💻", " ", "w", "ö", " ", "🇫🇷",
                  "e\u0301", " ", "中", "文", "\r\n", "👍🏽", "\"", "\u2028", "𝒳", "!"]


def text_of(clusters):
    return "".join(clusters)


def gcb(c):
    """The Grapheme_Cluster_Break property, for the code points the table uses."""
    o = ord(c)
    if o == 0x0D:
        return "CR"
    if o == 0x0A:
        return "LF"
    if o < 0x20 or 0x7F <= o <= 0x9F or o in (0x2028, 0x2029):
        return "Control"
    if o == 0x200D:
        return "ZWJ"
    if (0x0300 <= o <= 0x036F or 0x20D0 <= o <= 0x20FF or 0xFE00 <= o <= 0xFE0F
            or 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F or 0xE0100 <= o <= 0xE01EF):
        return "Extend"
    if o in (0x0903, 0x093B, 0x093E, 0x093F, 0x0940):
        return "SpacingMark"
    if 0x1F1E6 <= o <= 0x1F1FF:
        return "RI"
    if 0x1100 <= o <= 0x115F:
        return "L"
    if 0x1160 <= o <= 0x11A7:
        return "V"
    if 0x11A8 <= o <= 0x11FF:
        return "T"
    if 0xAC00 <= o <= 0xD7A3:
        return "LV" if (o - 0xAC00) % 28 == 0 else "LVT"
    if (0x1F000 <= o <= 0x1FAFF or 0x2600 <= o <= 0x27BF or 0x2300 <= o <= 0x23FF
            or 0x2B00 <= o <= 0x2BFF or o in (0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139)):
        return "ExtPict"
    return "Other"


def segment(text):
    """UAX #29-lite: extended grapheme clusters for text made of the properties above
    (rules GB3-GB13; no Prepend, no Indic conjuncts)."""
    out = []
    prev = None
    ri_run = 0          # regional indicators in a row before this code point
    pict_zwj = False    # ExtPict Extend* ZWJ seen just before this code point
    in_pict = False     # ExtPict Extend* so far
    for c in text:
        p = gcb(c)
        brk = True
        if prev is None:
            brk = True
        elif prev == "CR" and p == "LF":
            brk = False
        elif prev in ("Control", "CR", "LF") or p in ("Control", "CR", "LF"):
            brk = True
        elif prev == "L" and p in ("L", "V", "LV", "LVT"):
            brk = False
        elif prev in ("LV", "V") and p in ("V", "T"):
            brk = False
        elif prev in ("LVT", "T") and p == "T":
            brk = False
        elif p in ("Extend", "ZWJ", "SpacingMark"):
            brk = False
        elif pict_zwj and p == "ExtPict":
            brk = False
        elif prev == "RI" and p == "RI" and ri_run % 2 == 1:
            brk = False
        if brk:
            out.append(c)
        else:
            out[-1] += c
        pict_zwj = in_pict and p == "ZWJ"
        in_pict = (p == "ExtPict") or (in_pict and p == "Extend")
        ri_run = ri_run + 1 if p == "RI" else 0
        prev = p
    return out


def check_table():
    """Returns the entries of the hand-written table that disagree with segment()."""
    problems = []
    for name, cl in list(CASES.items()) + [("split", SPLIT_CLUSTERS)]:
        got = segment(text_of(cl))
        if got != cl or "" in cl:
            problems.append("%s: table %r, segment() %r" % (name, cl, got))
    return problems

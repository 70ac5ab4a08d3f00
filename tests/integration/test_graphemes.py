"""Every delta is exactly one extended grapheme cluster and the deltas concatenate to the
upstream's text byte for byte, however the upstream cut the text into tokens or the bytes
into reads. Expected clusters are written out per string in clusters.py."""

import clusters
from chatd_harness import ChatdTestCase, mock_upstream

SPLIT_TEXT = clusters.text_of(clusters.SPLIT_CLUSTERS)


class Graphemes(ChatdTestCase):
    def echo(self, name, model):
        cl = clusters.CASES[name]
        text = clusters.text_of(cl)
        r = self.chat(text, model=model)
        self.assertDone(r, text, cl, model=model)


def _add_case_tests():
    # Tokens of 1, 2, 3, 4, ... code points (clusters cut between tokens), raw UTF-8 JSON;
    # one code point per token; and \\u escapes with surrogate pairs.
    for name in clusters.CASES:
        for suffix, model in (("", "echo"), ("_one_code_point_per_token", "tok-1"),
                              ("_json_escaped", "escaped+tok-3")):
            def t(self, name=name, model=model):
                self.echo(name, model)
            t.__name__ = "test_%s%s" % (name, suffix)
            setattr(Graphemes, t.__name__, t)


_add_case_tests()


class SplitReads(ChatdTestCase):
    """The upstream body arrives in N-byte pieces: UTF-8 sequences, JSON and lines cut."""

    def split(self, model):
        r = self.chat(SPLIT_TEXT, model=model, timeout=60)
        self.assertDone(r, SPLIT_TEXT, clusters.SPLIT_CLUSTERS, model=model)

    def test_split_1_byte(self):
        self.split("split-1")

    def test_split_2_bytes(self):
        self.split("split-2")

    def test_split_3_bytes(self):
        self.split("split-3")

    def test_split_5_bytes(self):
        self.split("split-5")

    def test_split_7_bytes_escaped_json(self):
        self.split("escaped+split-7")

    def test_split_1_byte_crlf_lines(self):
        self.split("crlf+split-1")

    def test_split_1_byte_bare_cr_lines(self):
        self.split("cr+split-1")


class BigAnswer(ChatdTestCase):
    def test_big_20000_fast_reader_exact(self):
        text = mock_upstream.big_text(20000)
        r = self.chat("", model="big-20000", timeout=60)
        self.assertDone(r, text, list(text))

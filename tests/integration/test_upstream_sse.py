"""The upstream's event stream in every legal shape WHATWG allows (CRLF, bare CR, no space
after the colon, comments, multi-line data) and OpenAI's chunk variants (role-only and
empty-content chunks, a usage chunk without choices, no [DONE]): the same text comes out."""

import clusters
from chatd_harness import ChatdTestCase

CL = clusters.CASES["mixed"]
TEXT = clusters.text_of(CL)


class UpstreamSSE(ChatdTestCase):
    def same_text(self, model, timeout=30):
        r = self.chat(TEXT, model=model, timeout=timeout)
        return self.assertDone(r, TEXT, CL, model=model)

    def test_crlf_line_ends(self):
        self.same_text("crlf")

    def test_bare_cr_line_ends(self):
        self.same_text("cr")

    def test_data_without_space(self):
        self.same_text("nospace")

    def test_comment_lines_between_and_inside_events(self):
        self.same_text("comments")

    def test_json_split_over_two_data_lines(self):
        self.same_text("multiline")

    def test_role_only_and_empty_content_chunks_and_usage_chunk(self):
        self.same_text("usage")

    def test_escaped_json(self):
        self.same_text("escaped")

    def test_end_without_done_marker_after_finish_reason(self):
        # finish_reason arrived, then the body ended cleanly without [DONE]: the answer
        # is complete, so the stream ends with done.
        self.same_text("nodone")

    def test_all_variants_at_once_in_one_byte_reads(self):
        self.same_text("multiline+comments+nospace+crlf+usage+split-1", timeout=60)

    def test_bare_cr_multiline_in_two_byte_reads(self):
        self.same_text("cr+multiline+comments+split-2", timeout=60)

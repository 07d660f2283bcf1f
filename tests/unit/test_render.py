"""flare_jupyter.render: every string reaching HTML is escaped; text results display as the text itself."""

from __future__ import annotations

from IPython.lib.pretty import pretty

from flare_jupyter.render import Message, TextResult, esc, key_value_table, pre

EVIL = "<script>alert(\"x\")</script> & 'q'"
EVIL_ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;"


def test_esc_escapes_tags_quotes_and_ampersand():
    assert esc(EVIL) == EVIL_ESCAPED


def test_esc_accepts_non_strings():
    assert esc(None) == "None" and esc(42) == "42"


def test_pre_escapes_text_and_title():
    page = pre(EVIL, title=EVIL)
    assert page.count(EVIL_ESCAPED) == 2
    assert "<script>" not in page


def test_key_value_table_escapes_title_keys_and_values():
    page = key_value_table(EVIL, {EVIL: EVIL})
    assert page.count(EVIL_ESCAPED) == 3
    assert "<script>" not in page


def test_text_result_is_a_str_equal_to_the_text():
    text = "line 1\nline 2\n"
    result = TextResult(text)
    assert isinstance(result, str)
    assert result == text
    assert result.splitlines() == ["line 1", "line 2"]


def test_text_result_of_a_non_string_is_its_str():
    assert TextResult(42) == "42"


def test_text_result_repr_is_the_text_itself():
    assert repr(TextResult("a 'quoted'\nline")) == "a 'quoted'\nline"


def test_text_result_repr_with_title_puts_the_title_first():
    assert repr(TextResult("body", title="log of job 1")) == "log of job 1\nbody"


def test_text_result_html_is_escaped():
    page = TextResult(EVIL, title=EVIL)._repr_html_()
    assert EVIL_ESCAPED in page
    assert "<script>" not in page


def test_text_result_as_a_notebook_shows_it(ip):
    shown, _ = ip.display_formatter.format(TextResult(EVIL))
    assert shown["text/plain"] == EVIL
    assert "<script>" not in shown["text/html"] and EVIL_ESCAPED in shown["text/html"]


def test_text_result_pretty_prints_as_the_text():
    assert pretty(TextResult("a\nb")) == "a\nb"


def test_message_shows_as_plain_text():
    message = Message("Aborted the job 'x'")
    assert message == "Aborted the job 'x'"
    assert repr(message) == "Aborted the job 'x'"
    assert pretty(message) == "Aborted the job 'x'"


def test_message_html_is_escaped():
    page = Message(EVIL)._repr_html_()
    assert page == f"<span><bdi>{EVIL_ESCAPED}</bdi></span>"


def test_dataframes_show_dollar_signs_literally_not_as_latex():
    # a job named "$\alpha$" must read as typed: flare_jupyter marks DataFrame HTML for MathJax to ignore
    import pandas as pd

    import flare_jupyter  # noqa: F401

    html = pd.DataFrame({"name": ["$\\alpha$ **b**"]})._repr_html_()
    assert "mathjax_ignore" in html or "tex2jax_ignore" in html
    assert "$\\alpha$ **b**" in html

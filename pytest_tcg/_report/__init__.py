"""What a session reports beyond pass and fail: the per-test hooks (``_hooks``), the
``tcg`` section of a failing test (``_forensics``), each test's diagram files
(``_output``) and the HTML page listing them (``_html``). The writers are pure: no pytest
in them."""

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

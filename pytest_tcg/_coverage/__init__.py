"""Pipeline coverage (``--tcg-coverage``): the ledger of what the tests ran and how
(``_ledger``, pure), its page (``_html``), and the hooks that record it (``_hooks``).
Nothing here is imported unless the option is given."""

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

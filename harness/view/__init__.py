"""The episode viewer: ``python -m harness.view RUN_DIR…`` writes one self-contained HTML file.

One run gives ``RUN_DIR/report.html``: the run's config and summary, a sortable, filterable
table of problems and, on demand, each problem's episode grouped by round. Two runs of one
benchmark give their comparison, flipped problems first. The page needs no server and no
network: its one script and one style are inline and pinned by a Content-Security-Policy.

Modules, in the order data flows through them:

- ``load``     a run directory → :class:`~harness.view.load.RunView` (config, summary, one
               record per recorded result and the transcript of exactly that attempt)
- ``records``  one (result, transcript) → the table row and the episode body the page shows
- ``compare``  two runs paired problem by problem (flips, counts, McNemar's exact test)
- ``embed``    JSON safely inside ``<script>``, episode bodies gzip+base64, CSP hashes
- ``page``     the HTML document: the header is rendered (escaped) here, the table and the
               episodes by ``assets/viewer.js`` from the embedded JSON, only with textContent
- ``browser``  headless Debian Chromium through Playwright (tests, benchmark, ``--screenshot``)

It reads ``config.yaml``, ``summary.json``, ``results.jsonl`` and ``transcripts.jsonl``
(through :mod:`harness.transcript`, the schema's contract) and nothing else.
"""

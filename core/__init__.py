"""The bottom layer: the shared vocabulary every other app may use, and that uses none of them.

- ``core.languages``: Mongolian first, English second (page trees, fallbacks, ``bilingual``);
- ``core.api``: the JSON API's conventions (language negotiation, bilingual error bodies);
- ``core.mongolian``: the rules of Mongolian as citizens type it (skeletons, stems, stop words);
- ``core.analysis``: those rules written as the search engine's index analysis;
- ``core.weights``: the one table of search field weights.

See docs/ARCHITECTURE.md for the layers above it.
"""

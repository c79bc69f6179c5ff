"""The stock Wagtail form page, the baseline of ``bench/submissions.py`` and ``bench/delivery.py``.

A bench-only Django app: it is installed only by the benchmarks' settings (``bench.stock_forms.settings``
or the overlays the scripts write), never by ``cms.settings``, so the product has no trace of it.
"""

"""Test (and bench) support: lease and attempt one given delivery, as a worker's drain would.

The product only drains (``plugins.delivery.drain``, in ``plugins/delivery/worker.py``: whatever
is due, a batch at a time); tests drive one delivery they made, through the same public steps
(``claim_batch``, ``attempt_claimed``).
"""

from plugins import delivery as engine  # looked up at call time, so bench/delivery.py can time the steps


def claim(delivery_id, *, worker: str = ""):
    """Lease the delivery for this worker: ``(delivery, token)``, or None if it is not due, finished or leased."""
    batch, token = engine.claim_batch(1, worker=worker, ids=[delivery_id])
    return (batch[0], token) if batch else None


def attempt(delivery_id, *, worker: str = "") -> str:
    """Make one attempt if the delivery is due; return "delivered", "retrying", "dead" or "skipped"."""
    claimed = claim(delivery_id, worker=worker)
    if claimed is None:
        return "skipped"
    delivery, token = claimed
    return engine.attempt_claimed(delivery, token, worker=worker)

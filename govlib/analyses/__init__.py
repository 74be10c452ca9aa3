"""Use cases that combine metrics for a decision: expansion readiness, investigations, review queues.

``expansion`` (is a new market ready for the proactive mechanisms of its reference market?),
``investigate`` (confidential deep dives on a creator or a policy), ``feedback`` (review
queues out, labels back into ``review_labels``). They may use ``govlib.metrics``,
``govlib.stats`` and ``govlib.data``; reports present them, never the reverse.
"""

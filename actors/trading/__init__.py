"""Trading: the venue facade, two-leg execution, the paper and live brokers, reconciliation.

``VenueFacade`` (``facade``) is the one way strategy code reaches a venue; ``Executor``
(``execution``) opens and closes hedged pairs through a ``Broker`` (``broker`` for paper,
``live_broker`` for signed orders), journaling every intent; ``Reconciler`` (``reconcile``)
settles what a crash left open against the venues' own view.
"""

"""Coordination: the coordinator actor, funding-feed repair and history backfill.

``Coordinator`` (``coordinator``) turns funding streams into trades; ``FundingRepair``
(``repair``) backfills silent feeds and reconciles streamed funding with REST; ``backfill``
loads a venue's funding history into the store.
"""

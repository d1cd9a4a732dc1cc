"""Durable state: the StateStore protocol, its records, and how to open a store."""

from ops.state.store import AuditRecord, Lease, PendingItem, Record, StateStore

__all__ = ["AuditRecord", "Lease", "PendingItem", "Record", "StateStore"]

"""The clarissa CrossGuard pack; `policy.rules` also serves the offline check."""

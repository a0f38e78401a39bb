"""Email digests: subscriptions, composition, rendering and exactly-once sending."""

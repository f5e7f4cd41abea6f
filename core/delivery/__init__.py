"""Delivery of what the bot says on its own initiative: outbox events fan out into one
delivery row per recipient, and a worker sends them through the platform adapters at the
platforms' limits."""

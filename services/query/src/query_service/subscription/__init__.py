"""Subscription: the event queues, their partitions, sharing them among replicas, taking them back."""

"""The operators' work on the read model: rebuild, verify, and the answers to operations."""

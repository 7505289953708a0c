"""The transport the client needs: connections, envelopes, request/reply, the topology's names."""

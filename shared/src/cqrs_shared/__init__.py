"""Everything the two services and their clients agree on: contracts, messaging, settings, client."""

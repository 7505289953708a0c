"""The service runtime: settings and secrets, the lifecycle of a service process, its stop budget."""

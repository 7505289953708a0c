"""The read model: its document layout, the store, generations, the view cache and the layout's upgrades."""

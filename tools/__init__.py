"""The project's own tools (docs_reference); tools/asyncapi is a Node package of its own."""

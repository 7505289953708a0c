from cqrs_client.tracing import child_traceparent, new_traceparent, trace_id


def test_child_keeps_the_trace_id_and_changes_the_span() -> None:
    parent = new_traceparent()
    child = child_traceparent(parent)
    assert trace_id(child) == trace_id(parent)
    assert child != parent


def test_malformed_parent_starts_a_new_trace() -> None:
    assert trace_id(child_traceparent("garbage")) is not None

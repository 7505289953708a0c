"""The verify fold (operations/verify.py), pure: a stream wrong everywhere lists the first differences
and counts them all, so the reply stays within its bound."""

from uuid import uuid4

from query_service.operations.verify import MAX_LISTED_DIFFERENCES, Fold
from tests.builders import savings


def test_a_stream_the_read_model_lacks_lists_the_first_differences_and_counts_all() -> None:
    account = uuid4()
    fold = Fold(account)
    fold.add(savings(account, uuid4(), deposits=1_200))
    fold.compare(dict(fold.open), {}, final=True)  # the read model holds none of its documents
    check = fold.check()
    assert len(check.differences) == MAX_LISTED_DIFFERENCES
    assert check.differences_found is not None
    assert check.differences_found > MAX_LISTED_DIFFERENCES
    assert check.documents == len(fold.compared)
    assert fold.open == {}

import pytest


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the request scheduled after commit (the reconcile), as production does once the write commits."""

    def call(method, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return method(*args, **kwargs)

    return call

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_harness():
    """A real (temporary, local) Prefect API for the whole session."""
    with prefect_test_harness(server_startup_timeout=120):
        yield

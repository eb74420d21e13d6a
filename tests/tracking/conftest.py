import pytest

from tests.tracking.helpers import composed


@pytest.fixture
def tracking_cfg():
    def make(*overrides: str):
        return composed("mas=ceo", "tokens=2k", *overrides)

    return make

from __future__ import annotations

import httpx
import pytest
import respx

from paperfeed.accounts.submissions import arxiv_fetcher
from paperfeed.config import Settings
from paperfeed.errors import SourceError


def test_submission_fetch_gives_up_after_one_retry_while_the_member_waits(
    settings: Settings,
) -> None:
    patient = settings.model_copy(update={"http_retries": 4, "http_backoff_seconds": 0.01})
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(patient.arxiv_api_url).mock(return_value=httpx.Response(503))
        with pytest.raises(SourceError, match="503"):
            arxiv_fetcher(patient, ["2401.01234"])
    assert route.call_count == 2

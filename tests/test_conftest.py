"""The test suite finds its services itself and says what it could not test."""

from __future__ import annotations

import pytest

from . import conftest

pytest_plugins = ["pytester"]


def test_without_variables_the_default_local_addresses_are_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(conftest.POSTGRES_ENV, raising=False)
    monkeypatch.delenv(conftest.REDIS_ENV, raising=False)
    assert conftest.postgres_candidates()[0] == "postgresql://postgres@127.0.0.1:5432/test"
    assert conftest.redis_candidates() == ["redis://127.0.0.1:6379/15"]


def test_a_service_that_does_not_answer_is_a_skip_reason_naming_where(
    monkeypatch: pytest.MonkeyPatch, dead_port: int
) -> None:
    port = dead_port
    monkeypatch.setenv(conftest.POSTGRES_ENV, f"postgresql://u:hunter2@127.0.0.1:{port}/test")
    monkeypatch.setenv(conftest.REDIS_ENV, f"redis://127.0.0.1:{port}/15")
    pg_url, pg_why = conftest.find_postgres.__wrapped__()
    redis_url, redis_why = conftest.find_redis.__wrapped__()
    assert pg_url is None
    assert redis_url is None
    assert f"postgresql://u:***@127.0.0.1:{port}/test" in pg_why
    assert "hunter2" not in pg_why
    assert f"redis://127.0.0.1:{port}/15" in redis_why
    assert conftest.POSTGRES_ENV in pg_why
    assert conftest.REDIS_ENV in redis_why


def test_the_run_ends_with_the_skips_grouped_by_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pytest of its own, importing this tree's conftest (not an installed copy's).
    monkeypatch.setenv("PYTHONPATH", str(conftest.REPO_ROOT))
    pytester.makeconftest("from tests.conftest import pytest_terminal_summary  # noqa: F401\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_needs_a_service(n):
            pytest.skip("no service here")

        def test_other():
            pytest.skip("no data there")

        def test_runs():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1, skipped=4)
    tail = result.outlines[-4:]
    assert "4 skipped: not tested on this run" in tail[0]
    assert tail[1].split() == ["3", "x", "no", "service", "here"]
    assert tail[2].split() == ["1", "x", "no", "data", "there"]


def test_only_python_binances_own_warnings_are_silenced(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(conftest.REPO_ROOT))
    tests = pytester.makepyfile(
        """
        import warnings

        def test_import_the_client():
            import binance.ws.websocket_api  # noqa: F401

        def test_a_deprecation_of_ours_still_shows():
            warnings.warn("ours is deprecated", DeprecationWarning)
        """
    )
    # This repository's settings (pyproject.toml), in a process whose imports start fresh.
    result = pytester.runpytest_subprocess(
        "-c",
        str(conftest.REPO_ROOT / "pyproject.toml"),
        "--rootdir",
        str(pytester.path),
        "-q",
        str(tests),
    )
    result.assert_outcomes(passed=2, warnings=1)
    assert "ours is deprecated" in result.stdout.str()
    assert "websockets" not in result.stdout.str()

"""`kaisen` listings as a table, CSV or JSON; messages in the user's language; times in JST; amounts as
decimal strings with their currency; `bills calls --all` (issue 14, CLI; X-API, X-I18N, K-4)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from kaisen.core import cli as core_cli
from tests.charges.conftest import build_billed
from tests.conftest import make_world
from tests.test_cli import _err, _run


@pytest.fixture
def billed_env(live_server: Any, tmp_path: Path, clock_nov: None) -> tuple[Any, dict[str, str]]:
    billed = build_billed(make_world(n_lines=3))
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"),
           "KAISEN_TOKEN": billed.world.token, "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": "",
           "LC_ALL": "", "LC_MESSAGES": "", "LANG": ""}
    return billed, env


@pytest.mark.django_db(transaction=True)
def test_listing_formats_json_by_default_when_piped_csv_and_table(billed_env: tuple[Any, dict[str, str]]) -> None:
    billed, env = billed_env

    # Piped (CliRunner's stdout is no terminal): JSON, amounts as decimal strings.
    res = _run(["bills", "list"], env)
    assert res.exit_code == 0, res.output
    bills = json.loads(res.stdout)
    oct_bill = next(b for b in bills if b["id"] == billed.oct.pk)
    assert oct_bill["tax_total"] == "295.00" and oct_bill["currency"] == "JPY"

    res = _run(["bills", "list", "--format", "json"], env)
    assert res.exit_code == 0 and json.loads(res.stdout) == bills

    # CSV: a header from the keys, one row a bill, amounts with their currency.
    for args in (["bills", "list", "--format", "csv"], ["--format", "csv", "bills", "list"]):
        res = _run(args, env)
        assert res.exit_code == 0, res.output
        rows = list(csv.DictReader(io.StringIO(res.stdout)))
        assert [int(r["id"]) for r in rows] == [b["id"] for b in bills], args
        row = next(r for r in rows if int(r["id"]) == billed.oct.pk)
        assert row["tax_total"] == "295.00 JPY" and row["month"] == "2026-10"

    # Table: the header and the values.
    res = _run(["bills", "list", "--format", "table"], env)
    assert res.exit_code == 0, res.output
    assert "tax_total" in res.stdout and "295.00 JPY" in res.stdout and "2026-10" in res.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(res.stdout)

    # A paged listing in CSV: the items as rows, the cursor on stderr.
    l0 = billed.world.lines[0]
    res = _run(["bills", "numbers", str(billed.oct.pk), "--limit", "1", "--format", "csv"], env)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 1 and "msisdn" in rows[0]
    assert "next_cursor:" in res.stderr

    res = _run(["bills", "list", "--format", "xml"], env)
    assert res.exit_code == 2
    assert l0.msisdn  # the world has lines


@pytest.mark.django_db(transaction=True)
def test_bills_calls_all_follows_every_page(billed_env: tuple[Any, dict[str, str]]) -> None:
    billed, env = billed_env
    l0 = billed.world.lines[0]
    res = _run(["bills", "calls", str(billed.oct.pk), l0.msisdn], env)
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)
    assert first["pages"] == 3 and len(first["items"]) == 10

    res = _run(["bills", "calls", str(billed.oct.pk), l0.msisdn, "--all"], env)
    assert res.exit_code == 0, res.output
    every = json.loads(res.stdout)
    assert [c["no"] for c in every["items"]] == list(range(1, first["count"] + 1)) and first["count"] == 23
    assert every["total_charge"] == first["total_charge"] and every["currency"] == "JPY"
    assert all(c["started_at"].endswith("+09:00") for c in every["items"])   # JSON times in Japan time too

    # In CSV, every call a row, the start in Japan time, the charge with its currency.
    res = _run(["bills", "calls", str(billed.oct.pk), l0.msisdn, "--all", "--format", "csv"], env)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 23
    for row, call in zip(rows, every["items"], strict=True):
        assert row["started_at"] == core_cli.jst(call["started_at"]) and row["started_at"].endswith(" JST")
        assert row["started_at"][11:19] == call["start_time"][:8]   # the API's own JST clock time
        assert row["charge"] == f"{call['charge']} JPY"

    other = make_world(n_lines=1)
    res = _run(["bills", "calls", str(billed.oct.pk), l0.msisdn, "--all"], {**env, "KAISEN_TOKEN": other.token})
    assert res.exit_code == 1 and _err(res)["status"] == 404


@pytest.mark.django_db(transaction=True)
def test_lang_option_and_locale_choose_the_language_of_api_messages(billed_env: tuple[Any, dict[str, str]]) -> None:
    _billed, env = billed_env
    args = ["bills", "show", "999999"]
    en = _run(["--lang", "en", *args], env)
    ja = _run(["--lang", "ja", *args], env)
    assert en.exit_code == ja.exit_code == 1
    assert _err(en)["code"] == _err(ja)["code"] == "NOT_FOUND"
    assert _err(en)["message"] != _err(ja)["message"]
    assert _err(en)["message"].isascii() and not _err(ja)["message"].isascii()

    by_env = _run(args, {**env, "LANG": "en_US.UTF-8"})
    assert _err(by_env)["message"] == _err(en)["message"]
    by_env = _run(args, {**env, "LANG": "en_US.UTF-8", "LC_ALL": "ja_JP.UTF-8"})
    assert _err(by_env)["message"] == _err(ja)["message"]
    assert _run(["--lang", "fr", *args], env).exit_code == 2


def test_cli_own_messages_follow_the_language(tmp_path: Path) -> None:
    env = {"KAISEN_CONFIG_DIR": str(tmp_path), "KAISEN_TOKEN": "", "KAISEN_API_KEY_ID": "",
           "KAISEN_API_KEY_SECRET": "", "KAISEN_URL": "http://127.0.0.1:9", "LC_ALL": "", "LANG": ""}
    en = _run(["--lang", "en", "bills", "list"], env)
    ja = _run(["--lang", "ja", "bills", "list"], env)
    assert en.exit_code == ja.exit_code == 1
    assert "Not logged in" in en.stderr and "kaisen login" in ja.stderr
    assert "Not logged in" not in ja.stderr and not ja.stderr.isascii()


def test_helpers_lang_jst_amounts() -> None:
    assert core_cli.lang_from_env({"LANG": "ja_JP.UTF-8"}) == "ja"
    assert core_cli.lang_from_env({"LANG": "en_GB.UTF-8"}) == "en"
    assert core_cli.lang_from_env({"LC_ALL": "en_US", "LANG": "ja_JP"}) == "en"
    assert core_cli.lang_from_env({"LANG": "C.UTF-8"}) is None
    assert core_cli.lang_from_env({"LANG": "fr_FR.UTF-8"}) is None
    assert core_cli.lang_from_env({}) is None
    # UTC and other offsets in Japan time; a date or other text unchanged.
    assert core_cli.jst("2026-12-06T15:30:00Z") == "2026-12-07 00:30:00 JST"
    assert core_cli.jst("2026-12-06T15:30:00.5+00:00") == "2026-12-07 00:30:00 JST"
    assert core_cli.jst("2026-12-07T00:30:00+09:00") == "2026-12-07 00:30:00 JST"
    assert core_cli.jst("2026-12-07") == "2026-12-07"
    assert core_cli.jst("09012345678") == "09012345678"
    assert core_cli.jst_iso("2026-12-06T15:30:00Z") == "2026-12-07T00:30:00+09:00"
    assert core_cli.jst_iso("2026-12-06T15:30:00.250000+00:00") == "2026-12-07T00:30:00.250000+09:00"
    assert core_cli.normalise({"at": "2026-12-06T15:30:00Z", "month": "2026-12"}) == {
        "at": "2026-12-07T00:30:00+09:00", "month": "2026-12"}
    # Amounts: decimal strings whatever type they came in, with the currency in a table or CSV.
    assert core_cli.normalise({"currency": "JPY", "total": 1200, "count": 3, "items": [{"amount": 1.5}]}) == {
        "currency": "JPY", "total": "1200", "count": 3, "items": [{"amount": "1.5"}]}
    assert core_cli.normalise({"total": 5}) == {"total": 5}   # no currency: not an amount
    assert core_cli.cell("total", "980.00", "USD") == "980.00 USD"
    assert core_cli.cell("msisdn", "09012345678", "JPY") == "09012345678"
    assert core_cli.cell("total", None, "JPY") == ""
    assert core_cli.cell("tags", ["a", "b"], None) == '["a", "b"]'
    header, body, meta = core_cli.table_rows({"items": [{"a": 1}, {"b": True}], "next_cursor": "x"})
    assert header == ["a", "b"] and body == [["1", ""], ["", "true"]] and meta == {"next_cursor": "x"}

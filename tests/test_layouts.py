"""Folder layouts: safe, stable, collision-free, and never outside dest."""

from __future__ import annotations

import datetime
from pathlib import PurePosixPath

import pytest

from tcia_models import LAYOUTS, InvalidParameterError, Layout
from tcia_models.layouts import safe_part


def _row(uid: str, **fields: object) -> dict[str, object]:
    return {"SeriesInstanceUID": uid, **fields}


def test_the_default_is_the_series_uid() -> None:
    assert Layout().path_for(_row("1.2.3")) == PurePosixPath("1.2.3")


def test_a_template_over_the_fields() -> None:
    layout = Layout(
        "{Collection}/{PatientID}/{StudyInstanceUID}/{SeriesNumber}-{SeriesDescription}"
    )
    row = _row(
        "1.2.3",
        Collection="TCGA-KIRC",
        PatientID="TCGA-B0-5094",
        StudyInstanceUID="1.9",
        SeriesNumber=3,
        SeriesDescription="AX T1",
    )
    assert layout.path_for(row) == PurePosixPath("TCGA-KIRC/TCGA-B0-5094/1.9/3-AX T1")


def test_missing_values_are_na_and_dates_iso() -> None:
    layout = Layout("nbia-descriptive")
    row = _row(
        "1.2.3.45678",
        Collection="C",
        PatientID="P",
        StudyDate=datetime.date(2000, 1, 2),
        StudyInstanceUID="9.8.76543",
    )
    assert layout.path_for(row) == PurePosixPath("C/P/2000-01-02-NA-76543/NA-NA-45678")


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ("a/b\\c", "a_b_c"),
        ("..", "_"),
        (".", "_"),
        ("", "NA"),
        ("  padded  ", "padded"),
        ("bell\x07 esc\x1b[31m", "bell_ esc_[31m"),
        ('win<>:"|?*dows', "win_______dows"),
        ("rtl\u202eevil", "rtl_evil"),
        ("...hidden", "hidden"),
    ],
)
def test_values_become_safe_parts(value: str, part: str) -> None:
    assert safe_part(value) == part


def test_long_values_are_cut_stably_and_stay_distinct() -> None:
    first, second = "x" * 300, "x" * 299 + "y"
    assert safe_part(first) == safe_part(first) and len(safe_part(first)) <= 100
    assert safe_part(first) != safe_part(second)


def test_a_layout_never_leaves_dest() -> None:
    layout = Layout("{Collection}/{PatientID}")
    path = layout.path_for(_row("1.2", Collection="../../etc", PatientID="/root"))
    assert path == PurePosixPath("_._etc/_root") or ".." not in path.parts
    assert not path.is_absolute() and ".." not in path.parts
    for template in ("/abs/{SeriesInstanceUID}", "../{SeriesInstanceUID}", "static", "{Bad"):
        with pytest.raises(InvalidParameterError):
            Layout(template)


def test_collisions_get_a_deterministic_suffix_whatever_the_order() -> None:
    layout = Layout("{PatientID}")
    rows = [
        _row("1.2.3.111111111111", PatientID="P"),
        _row("1.2.3.222222222222", PatientID="P"),
        _row("1.2.3.333", PatientID="Q"),
    ]
    forward = layout.paths_for(rows)
    backward = layout.paths_for(list(reversed(rows)))
    assert forward == backward
    assert forward["1.2.3.333"] == PurePosixPath("Q")
    assert forward["1.2.3.111111111111"] == PurePosixPath("P-111111111111")
    assert len(set(forward.values())) == 3


def test_every_named_layout_formats_a_full_row() -> None:
    row = _row(
        "1.2.3",
        Collection="C",
        PatientID="P",
        StudyInstanceUID="4.5",
        StudyDate="2001-01-01",
        StudyDesc="D",
        SeriesNumber=1,
        SeriesDescription="S",
    )
    for name in LAYOUTS:
        path = Layout(name).path_for(row)
        assert path.parts and not path.is_absolute()

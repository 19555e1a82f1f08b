"""The job id a run's record takes from its manifest: the shortcut for a manifest that names no job answers what the
whole schema check (the actions' :func:`evidence`) answers, for good and hostile manifests alike."""

from __future__ import annotations

from typing import Any

import pytest
from rankinv.daemon.actions.manifest import Untrusted, evidence, job_id


def _checked(data: Any) -> str:
    try:
        return evidence(data).job_id
    except (Untrusted, TypeError, ValueError):
        return ""


MANIFESTS: list[Any] = [
    {"kind": "GRPO"},
    {},
    {"kind": "GRPO", "SLURM_JOB_ID": "4242"},
    {"slurm_job_id": 77},
    {"job_id": "77_3", "pid": 12, "host": "node07"},
    {"env": {"SLURM_JOB_ID": "51"}},
    {"slurm": {"job_id": "9"}, "pid": -1},  # a job named, another field untrusted: no job id
    {"SLURM_JOB_ID": "12; rm -rf ~"},
    {"SLURM_JOB_ID": ""},
    {"SLURM_JOB_ID": None, "pid": "x"},
    {"slurm": "not a table"},
    {"slurm": "not a table", "SLURM_JOB_ID": "4"},
    {"pid": -1},  # no job named: "" however bad the rest
    {"process": {"pid": 3}, "job_id": True},
    ["SLURM_JOB_ID", "4"],
    "4242",
    None,
]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=repr)
def test_the_job_id_is_the_schema_checks(manifest: Any) -> None:
    assert job_id(manifest) == _checked(manifest)


def test_some_manifests_name_a_job() -> None:
    """The cases above are not all empty answers (the comparison would then prove little)."""
    assert {job_id(m) for m in MANIFESTS} >= {"", "4242", "77", "77_3", "51"}

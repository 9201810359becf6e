from __future__ import annotations

import pytest
from lts_events.contracts.release.ci import CiSource, CiStatus
from lts_release.ci import gitlab
from lts_release.ci.errors import BadInput

from .fixtures import payload


def test_a_pipeline_hook_is_the_pipeline_and_each_of_its_jobs_on_its_branch() -> None:
    observed = gitlab.observe(payload("gitlab-pipeline-hook.json"))

    assert [(o.job, o.status, o.raw_status) for o in observed] == [
        ("Pipeline for branch: master", CiStatus.PASSED, "success"),
        ("production", CiStatus.SKIPPED, "skipped"),
        ("test-image", CiStatus.PASSED, "success"),
        ("test-build", CiStatus.FAILED, "failed (script_failure)"),
        ("build-image", CiStatus.PASSED, "success"),
        ("staging", CiStatus.PENDING, "created"),
    ]
    assert {(o.source, o.branch, o.commit, o.repository) for o in observed} == {
        (
            CiSource.GITLAB,
            "master",
            "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
            "gitlab-org/gitlab-test",
        )
    }


def test_jobs_link_to_their_job_page_and_the_pipeline_to_its_own() -> None:
    pipeline, *jobs = gitlab.observe(payload("gitlab-pipeline-hook.json"))

    assert pipeline.evidence.run_url == "http://example.com/gitlab-org/gitlab-test/-/pipelines/31"
    assert jobs[0].evidence.run_url == "http://192.168.64.1:3005/gitlab-org/gitlab-test/-/jobs/380"


def test_each_observation_is_keyed_by_its_content_so_a_repeated_job_is_recorded_once() -> None:
    first = gitlab.observe(payload("gitlab-pipeline-hook.json"))
    again = gitlab.observe(payload("gitlab-pipeline-hook.json"))
    later = payload("gitlab-pipeline-hook.json")
    later["builds"][4]["status"] = "running"  # staging started

    keys = [o.key for o in first]

    assert keys == [o.key for o in again]
    assert len(set(keys)) == len(keys)
    assert [o.key for o in gitlab.observe(later)][:4] == keys[:4]
    assert gitlab.observe(later)[5].key != keys[5]


def test_gitlab_times_in_utc_words_are_read() -> None:
    observed = gitlab.observe(payload("gitlab-pipeline-hook.json"))

    assert observed[0].reported_at is not None
    assert observed[0].reported_at.isoformat() == "2016-08-12T15:26:29+00:00"


def test_a_hook_without_its_commit_is_refused_naming_the_field() -> None:
    hook = payload("gitlab-pipeline-hook.json")
    del hook["object_attributes"]["sha"]

    with pytest.raises(BadInput) as refused:
        gitlab.observe(hook)

    assert refused.value.field == "object_attributes.sha"


def test_an_unknown_job_status_is_refused_naming_the_job() -> None:
    hook = payload("gitlab-pipeline-hook.json")
    hook["builds"][2]["status"] = "exploded"

    with pytest.raises(BadInput) as refused:
        gitlab.observe(hook)

    assert refused.value.field == "builds.2.status"


def test_other_hooks_and_tag_pipelines_are_ignored() -> None:
    tagged = payload("gitlab-pipeline-hook.json")
    tagged["object_attributes"]["tag"] = True

    with pytest.raises(gitlab.Ignored):
        gitlab.observe({"object_kind": "push"})
    with pytest.raises(gitlab.Ignored, match="tag"):
        gitlab.observe(tagged)

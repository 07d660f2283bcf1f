"""Progress parsing (round k of N, metrics, site states) on answers recorded from real jobs.

Every input comes from tests/recordings/widgets-2.9.0.json (recorded by tests/record_monitor.py while real jobs
ran); the expectations come from the recorded data or from the job definitions in record_monitor.py (the
3-round hello-numpy job, the 1-round hostile-named job, the 40-round "long" job aborted early).

While a job runs, the widgets read what its server log (and its round records) gained since the last tick: the
recorded ``tail_from`` answers, fed in order to a ``FileFollower`` (only complete lines, from where the last read
ended) and a ``LogProgress``; once it finished, its whole log (the recorded ``get_job_logs`` answer) or its round
records, once. The whole log and the lines read tick by tick are parsed by the same code.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pandas as pd
import pytest

from fakes import RECORDINGS, decode
from flare_jupyter.metrics import ROUND_METRICS, ROUND_METRICS_READABLE, round_metrics_rows
from flare_jupyter.progress import (
    ROUND_RECORDS,
    ROUND_STARTED,
    SERVER_LOG,
    FileFollower,
    LogProgress,
    Progress,
    elapsed_seconds,
    job_progress,
    job_sites,
    key_metric_from_config,
    metrics_from_log,
    num_rounds_from_config,
    progress_text,
    round_from_log,
    round_from_stats,
    site_states,
    writes_file,
)

RECORDING = json.loads((RECORDINGS / "widgets-2.9.0.json").read_text())
JOBS = RECORDING["jobs"]
THREE = JOBS["three_rounds"]
CLIENTS = RECORDING["clients"]
#: rounds planned by the job definitions in tests/record_monitor.py
PLANNED = {"three_rounds": 3, "hostile": 1, "aborted": 40}


def results(method: str, **args) -> list:
    """Every recorded answer of ``method`` whose arguments include ``args``, in recorded order (errors left out)."""
    return [
        decode(c["result"])
        for c in RECORDING["calls"]
        if c["method"] == method and "result" in c and all(c["args"].get(k) == v for k, v in args.items())
    ]


def config_of(job_id: str) -> str:
    (text,) = [
        decode(c["result"]) for c in RECORDING["calls"] if c["method"] == "cat_target" and job_id in c["args"]["file"]
    ]
    return text


def server_logs(job_id: str) -> list[str]:
    """The job's whole server log, as fetched once it finished (get_job_logs)."""
    return [answer["logs"]["server"] for answer in results("get_job_logs", job_id=job_id)]


def reads(job_id: str, name: str = "log.txt") -> list[str]:
    """What each read of the running job's file answered, in recorded order, as ``job_file_since`` hands it on
    (the server's own "tail: cannot open" complaint, before the file exists, is no text)."""
    answers = results("tail_from", target="server", file=f"{job_id}/{name}")
    return ["" if text.startswith("tail: ") else text for text in answers]


def lines_per_read(job_id: str, name: str = "log.txt") -> list[list[str]]:
    """The complete lines each read added, as a ``FileFollower`` takes them."""
    follower = FileFollower()
    return [follower.take(text) for text in reads(job_id, name)]


def final_records(job_id: str) -> str:
    """The job's round records as its downloaded result holds them (read once it finished)."""
    (entry,) = [c for c in RECORDING["calls"] if c["method"] == "download_job_result" and c["args"]["job_id"] == job_id]
    return entry["files"][f"workspace/{ROUND_METRICS}"]


def listings() -> list[list[dict]]:
    return results("list_jobs")


def entry(listing: list[dict], job_id: str) -> dict:
    return next(j for j in listing if j["job_id"] == job_id)


FINAL_LOG = server_logs(THREE)[-1]
READ_LINES = lines_per_read(THREE)
#: The log as far as the reads had got at each tick, as one text each
RUNNING_LOGS = ["\n".join(sum(READ_LINES[: i + 1], [])) for i in range(len(READ_LINES))]
#: The real lines of the final log before its first "Round N started" (the runner and workflow starting up)
BEFORE_ROUNDS = "\n".join(
    FINAL_LOG.splitlines()[: next(i for i, ln in enumerate(FINAL_LOG.splitlines()) if ROUND_STARTED.search(ln))]
)
CONFIG = config_of(THREE)
META = results("get_job_meta", job_id=THREE)[-1]
FINAL_ENTRY = entry(listings()[-1], THREE)


# -- N: rounds planned ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("job", sorted(PLANNED))
def test_num_rounds_from_the_recorded_server_config(job):
    assert num_rounds_from_config(config_of(JOBS[job])) == PLANNED[job]


def test_num_rounds_from_parsed_config_is_the_same():
    assert num_rounds_from_config(json.loads(CONFIG)) == 3


def test_num_rounds_of_text_that_is_not_a_config_is_none():
    # the first recorded server log of the job: real text, but not JSON
    assert num_rounds_from_config(server_logs(THREE)[0]) is None


def test_key_metric_from_the_recorded_config():
    assert key_metric_from_config(CONFIG) == "accuracy"


# -- k: the current round ------------------------------------------------------------------------------------------
def test_round_from_the_final_server_log_is_the_last_round():
    assert round_from_log(FINAL_LOG) == 3


def test_round_from_the_hostile_jobs_final_log_is_its_only_round():
    assert round_from_log(server_logs(JOBS["hostile"])[-1]) == PLANNED["hostile"]


def test_round_from_a_log_without_rounds_is_none():
    assert "Runner_process started" in BEFORE_ROUNDS and "Round" not in BEFORE_ROUNDS  # running, no round yet
    assert round_from_log(BEFORE_ROUNDS) is None
    assert round_from_log("") is None


def test_round_from_the_early_reads_is_none():
    # before the job's log existed, the server's tail answered its own complaint (no text); then no round yet
    assert results("tail_from", file=f"{THREE}/log.txt")[0].startswith("tail: cannot open")
    early = [text for text in RUNNING_LOGS if "Round" not in text]
    assert early and early[0] == ""
    assert {round_from_log(text) for text in early} == {None}


def test_the_lines_read_tick_by_tick_are_the_whole_log_as_far_as_it_had_got():
    lines = FINAL_LOG.splitlines()
    read = sum(READ_LINES, [])
    assert read == lines[: len(read)]  # in order, none twice, none left out
    assert len(read) > len(lines) / 2  # most of the log was read while the job ran, a few new lines a tick
    assert all(len(new) < len(read) for new in READ_LINES)


def test_each_read_starts_where_the_last_complete_line_ended():
    asked = [
        c["args"]["offset"]
        for c in RECORDING["calls"]
        if c["method"] == "tail_from" and c["args"]["file"] == f"{THREE}/log.txt"
    ]
    follower, expected = FileFollower(), []
    for text in reads(THREE):
        expected.append(follower.since())
        follower.take(text)
    assert asked == expected
    assert follower.offset == len("\n".join(sum(READ_LINES, [])).encode()) + 1  # every complete line, in bytes


def test_round_from_log_never_decreases_along_the_recorded_reads():
    rounds = [round_from_log(text) or 0 for text in [*RUNNING_LOGS, FINAL_LOG]]
    assert rounds == sorted(rounds)
    assert rounds[0] == 0 and rounds[-1] == 3


def test_log_progress_fed_the_reads_says_what_the_whole_log_says():
    fed = LogProgress("accuracy")
    for new in READ_LINES:
        fed.add(new)
    so_far = LogProgress("accuracy").read(RUNNING_LOGS[-1])
    assert (fed.round, fed.rows) == (so_far.round, so_far.rows) and fed.rows
    assert fed.rows == metrics_from_log(FINAL_LOG, "accuracy")[: len(fed.rows)]
    assert fed.add([]) is False and fed.add(READ_LINES[0][:1]) is False  # nothing new: nothing told


# -- reading a growing file ----------------------------------------------------------------------------------------
#: a real read of several lines (without the newline a later read starts with: as if read from the file's start)
TEXT = next(text for text in reads(THREE) if text.count("\n") > 3).removeprefix("\n")


def test_a_last_line_still_being_written_is_read_again_next_time():
    cut = TEXT.index("\n", TEXT.index("\n") + 1) + 10  # the second line complete, the third one partly written
    follower = FileFollower()
    first = follower.take(TEXT[:cut])
    assert first == TEXT[:cut].split("\n")[:2]
    assert follower.offset == len(TEXT[: TEXT.index("\n", TEXT.index("\n") + 1) + 1].encode())
    rest = TEXT[follower.offset - 1 :]  # what the file holds from the byte asked for (the newline) on
    assert first + follower.take(rest) == TEXT.split("\n")[: TEXT.count("\n")]


def test_offsets_count_bytes_not_characters():
    follower = FileFollower()
    follower.take("validation metric 0.5 from client sïte-1\n")
    assert follower.offset == len("validation metric 0.5 from client sïte-1\n".encode()) == 42


def test_a_replaced_file_is_read_again_from_its_start():
    follower = FileFollower()
    follower.take(TEXT)
    assert follower.offset and follower.since() == follower.offset - 1
    assert follower.take(TEXT) == [] and follower.offset == 0  # not the newline we ended on: another file
    assert follower.take(TEXT) == TEXT.split("\n")[: TEXT.count("\n")]  # read again from its start


def test_an_empty_answer_keeps_the_place_read_up_to():
    # the server's answer when the file is not there (its "tail: cannot open" complaint, which job_file_since hands
    # on as no text), as recorded before the log existed: the same answer once the job's folder is gone at its end
    # must not make the follower forget what the file held
    no_file = reads(THREE)[0]
    assert no_file == ""
    follower = FileFollower()
    lines = follower.take(TEXT)
    offset = follower.offset
    assert follower.take(no_file) == [] and follower.offset == offset
    assert lines + follower.take("\none more line\n") == [*TEXT.split("\n")[: TEXT.count("\n")], "one more line"]


def test_the_round_records_read_tick_by_tick_are_the_final_ones_as_far_as_they_had_got():
    read = round_metrics_rows("\n".join(sum(lines_per_read(THREE, ROUND_METRICS_READABLE), [])))
    final = round_metrics_rows(final_records(THREE))
    assert read and read == final[: len(read)]
    assert {r for r, *_ in final} == {0, 1, 2}  # NVFlare counts rounds from 0
    assert {site for _r, site, _m, _v in final} == set(CLIENTS) | {"aggregated"}


def test_the_config_says_whether_the_job_writes_readable_round_records():
    assert writes_file(CONFIG, "round_metrics.jsonl.txt")  # examples.add_readable_metrics added the writer
    assert writes_file(json.loads(CONFIG), "metrics_summary.copy.json")  # parsed configs too
    assert not writes_file(CONFIG, "nothing_writes_this.txt")
    assert not writes_file(FINAL_LOG, "round_metrics.jsonl.txt")  # not a config


def test_fedavg_server_stats_report_no_round():
    stats = results("show_stats", job_id=THREE, target_type="server")
    assert stats and any("FedAvg" in s.get("server", {}) for s in stats)  # NVFlare's FedAvg, as recorded
    for answer in stats:
        assert round_from_stats(answer) == (None, None)


def test_round_from_stats_of_no_answer():
    assert round_from_stats(None) == (None, None)


# -- metrics -------------------------------------------------------------------------------------------------------
def test_metrics_from_the_final_log_are_one_row_per_reported_metric():
    rows = metrics_from_log(FINAL_LOG, "accuracy")
    lines = [ln for ln in FINAL_LOG.splitlines() if re.search(r"validation metric \S+ from client", ln)]
    assert len(rows) == len(lines) > 0
    for (_rnd, site, metric, value), line in zip(rows, lines, strict=True):
        assert metric == "accuracy"
        assert site in CLIENTS
        assert line.endswith(f"validation metric {value:g} from client {site}")


def test_each_metric_row_has_the_round_the_log_had_started():
    rows = metrics_from_log(FINAL_LOG, "accuracy")
    lines = FINAL_LOG.splitlines()
    metric_at = [i for i, ln in enumerate(lines) if re.search(r"validation metric \S+ from client", ln)]
    for (rnd, _site, _metric, _value), i in zip(rows, metric_at, strict=True):
        assert rnd == sum("Round " in ln and " started" in ln for ln in lines[:i])
    assert max(r[0] for r in rows) == 3
    # every site reported in each round that has metrics
    by_round = {}
    for rnd, site, _m, _v in rows:
        by_round.setdefault(rnd, set()).add(site)
    assert all(sites == set(CLIENTS) for sites in by_round.values())


def test_metrics_are_named_validation_metric_without_a_key_metric():
    rows = metrics_from_log(FINAL_LOG)
    assert rows and {r[2] for r in rows} == {"validation metric"}


def test_no_metrics_before_any_was_logged():
    assert metrics_from_log(BEFORE_ROUNDS, "accuracy") == []
    # rounds had started, no site had reported yet
    lines = FINAL_LOG.splitlines()
    first_metric = next(i for i, ln in enumerate(lines) if "validation metric" in ln)
    rounds_only = "\n".join(lines[:first_metric])
    assert round_from_log(rounds_only) >= 1
    assert metrics_from_log(rounds_only, "accuracy") == []


# -- sites ---------------------------------------------------------------------------------------------------------
def test_job_sites_from_the_recorded_meta():
    assert job_sites(META) == sorted(CLIENTS)


def client_stats_where(predicate) -> tuple[str, dict]:
    """A recorded client ``show_stats`` answer (of any of the recorded jobs) with a site whose answer fits."""
    for answer in results("show_stats", target_type="client"):
        for site, per_site in answer.items():
            if predicate(per_site):
                return site, answer
    raise AssertionError("no such client answer recorded")


def test_site_that_has_not_started_the_job_is_waiting():
    site, answer = client_stats_where(lambda a: a == {})
    assert site_states(CLIENTS, answer)[site].state == "waiting"


def test_site_without_a_current_task_is_idle():
    site, answer = client_stats_where(lambda a: a.get("ClientRunner", {}).get("current_tasks") == [])
    states = site_states(CLIENTS, answer)
    assert (states[site].state, states[site].task) == ("idle", "")


def test_site_with_a_current_task_is_running_it():
    site, answer = client_stats_where(lambda a: a.get("ClientRunner", {}).get("current_tasks"))
    tasks = answer[site]["ClientRunner"]["current_tasks"]
    states = site_states(CLIENTS, answer)
    assert states[site].state == "running task"
    assert states[site].task == ", ".join(tasks)


def test_site_whose_reply_could_not_be_read():
    # NVFlare answers the string "invalid_reply" for such a site (nvflare/private/fed/server/info_coll_cmd.py)
    states = site_states(CLIENTS, {CLIENTS[0]: "invalid_reply"})
    assert states[CLIENTS[0]].state == "no reply (invalid_reply)"
    assert states[CLIENTS[1]].state == "waiting"


def test_every_site_is_done_once_the_job_finished():
    _site, answer = client_stats_where(lambda a: a.get("ClientRunner", {}).get("current_tasks"))
    assert {s.state for s in site_states(CLIENTS, answer, finished=True).values()} == {"done"}


# -- job_progress --------------------------------------------------------------------------------------------------
def final_progress() -> Progress:
    return job_progress(THREE, FINAL_ENTRY, meta=META, config=CONFIG, log_text=FINAL_LOG)


def test_job_progress_of_the_finished_job():
    p = final_progress()
    assert p.status == "FINISHED:COMPLETED" and p.finished and p.outcome == "COMPLETED"
    assert (p.round, p.num_rounds) == (3, 3)
    assert p.round_text() == "round 3 of 3"
    assert sorted(p.sites) == sorted(CLIENTS)
    assert p.metrics == metrics_from_log(FINAL_LOG, "accuracy")
    assert p.name == FINAL_ENTRY["job_name"]


def test_job_progress_keeps_what_it_knew_when_the_details_are_missing():
    running = next(entry(lst, THREE) for lst in listings() if entry(lst, THREE)["status"] == "RUNNING")
    client = results("show_stats", job_id=THREE, target_type="client")[-1]
    before = job_progress(THREE, running, meta=META, client_stats=client, config=CONFIG, log_text=FINAL_LOG)
    after = job_progress(THREE, running, previous=before)
    assert (after.round, after.num_rounds) == (before.round, before.num_rounds) == (3, 3)
    assert after.sites == before.sites and after.sites
    assert after.metrics == before.metrics and after.metrics
    assert after.status == "RUNNING"


def test_job_progress_round_never_goes_back():
    earlier = next(text for text in RUNNING_LOGS if round_from_log(text) == 1)
    later = job_progress(THREE, FINAL_ENTRY, config=CONFIG, log_text=FINAL_LOG)
    again = job_progress(THREE, FINAL_ENTRY, log_text=earlier, previous=later)
    assert again.round == 3


def test_job_progress_along_the_recorded_logs_only_moves_forward():
    p, seen = None, []
    for text in [*RUNNING_LOGS, FINAL_LOG]:
        p = job_progress(THREE, FINAL_ENTRY, config=CONFIG, log_text=text, previous=p)
        seen.append(p.round or 0)
    assert seen == sorted(seen) and seen[0] == 0 and seen[-1] == 3


def test_round_3_of_3_from_the_reads_and_then_the_final_records():
    running = [j for j in results("get_job_meta", job_id=THREE) if j["status"] == "RUNNING"][-1]
    log, records, p = LogProgress("accuracy"), [], None
    for new, new_records in zip(READ_LINES, lines_per_read(THREE, ROUND_METRICS_READABLE), strict=True):
        log.add(new)
        records = records + round_metrics_rows("\n".join(new_records))
        p = job_progress(
            THREE,
            None,
            meta=running,
            config=CONFIG,
            log_round=log.round,
            metrics=records or None,
            metrics_source=ROUND_RECORDS,
            previous=p,
        )
    assert p.status == "RUNNING" and p.round_text() == "round 3 of 3"
    assert p.metrics and p.metrics_source == ROUND_RECORDS
    final = round_metrics_rows(final_records(THREE))
    p = job_progress(
        THREE, FINAL_ENTRY, meta=META, config=CONFIG, metrics=final, metrics_source=ROUND_RECORDS, previous=p
    )
    assert p.finished and p.round_text() == "round 3 of 3"
    assert p.metrics == final and max(r[0] for r in p.metrics) == 2  # the round records count from 0


def test_metrics_from_a_whole_log_say_where_they_come_from():
    p = job_progress(THREE, FINAL_ENTRY, config=CONFIG, log_text=FINAL_LOG)
    assert p.metrics == metrics_from_log(FINAL_LOG, "accuracy") and p.metrics_source == SERVER_LOG
    again = job_progress(THREE, FINAL_ENTRY, metrics=[], metrics_source=ROUND_RECORDS, previous=p)
    assert again.metrics == p.metrics and again.metrics_source == SERVER_LOG  # nothing new keeps what was known


def test_progress_text_says_status_round_and_sites():
    text = progress_text(final_progress())
    assert text.splitlines()[0].startswith(f"job {FINAL_ENTRY['job_name']} ({THREE}): FINISHED:COMPLETED")
    assert "round 3 of 3" in text
    for site in CLIENTS:
        assert f"{site}: done" in text
    last = {}
    for rnd, site, _metric, value in metrics_from_log(FINAL_LOG, "accuracy"):
        last[site] = (rnd, value)
    for site, (rnd, value) in last.items():
        assert f"accuracy {site} = {value:g} (round {rnd})" in text


def test_progress_text_with_elapsed_seconds():
    p = final_progress()
    seconds = pd.to_timedelta(FINAL_ENTRY["duration"]).total_seconds()
    assert progress_text(p, elapsed_seconds(p)).splitlines()[0].endswith(f"round 3 of 3, {seconds:.0f} s")


def test_elapsed_seconds_of_a_finished_job_is_its_duration():
    p = final_progress()
    expected = pd.to_timedelta(FINAL_ENTRY["duration"]).total_seconds()
    far_later = datetime.fromisoformat(META["start_time"]) + timedelta(days=3)
    assert elapsed_seconds(p, now=far_later) == pytest.approx(expected)


def test_elapsed_seconds_of_a_running_job_counts_from_its_start():
    running = next(entry(lst, THREE) for lst in listings() if entry(lst, THREE)["status"] == "RUNNING")
    p = job_progress(THREE, running, meta=META)
    started = datetime.fromisoformat(META["start_time"])
    assert elapsed_seconds(p, now=started + timedelta(seconds=7)) == pytest.approx(7.0)


def test_elapsed_seconds_unknown_without_times():
    assert elapsed_seconds(Progress(THREE)) is None

import time

from codecbench.stages import StageRecorder, stage


def test_stages_are_timed_only_inside_a_recorder():
    with stage("outside"):
        pass
    with StageRecorder() as recorder:
        for _ in range(2):
            with stage("sleep"):
                time.sleep(0.01)
        with stage("fast"):
            pass
    durations = recorder.durations_ms()
    assert set(durations) == {"sleep", "fast"}
    assert durations["sleep"] >= 20 and durations["fast"] < durations["sleep"]
